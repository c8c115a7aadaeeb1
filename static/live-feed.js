// The reader's copy of an event, kept exact by revision numbers (see docs/api.md).
//
// No DOM here: the page hands it functions to show and remove entries and to fetch
// changes, so these rules can be tested on their own (tests/browser/test_live_feed.py).
//
// - Messages are applied strictly in revision order. One that arrives ahead of a gap
//   is held, and the gap is filled from `changes/?since=`.
// - Each entry remembers the revision of the state shown, so a message or change that
//   arrives twice, or late, is never applied over a newer one.
// - hello and heartbeat carry the server's revision: ahead of ours means we missed
//   something. A hello behind ours means the server forgot (another database): start
//   again; a heartbeat behind ours may only be late, so the server is asked.
// - A batch is several changes in one frame (a burst): each is received in turn, as
//   if it had come alone.
(function (root) {
  "use strict";

  function LiveFeed(options) {
    this.revision = options.revision;
    this.show = options.show; // (entry) => void: put or replace the entry's card
    this.remove = options.remove; // (id) => void: take the entry's card away
    this.fetchChanges = options.fetchChanges; // (since) => Promise of the changes answer
    this.restart = options.restart; // () => void: the page's state is beyond repair
    this.onEvent = options.onEvent || function () {};
    this.known = new Map(); // entry id => revision of the state shown (tombstones too)
    this.held = new Map(); // revision => message that arrived ahead of a gap
    this.inFlight = null;
    this.again = false;
  }

  // Tell the feed about an entry the page already shows (rendered by the server).
  // Never lowers what is known: an answer fetched before a newer change is older news.
  LiveFeed.prototype.know = function (id, revision) {
    id = Number(id);
    this.known.set(id, Math.max(this.known.get(id) || 0, Number(revision)));
  };

  // Whether the feed has applied a newer state of the entry than this revision.
  LiveFeed.prototype.knowsNewer = function (id, revision) {
    return (this.known.get(Number(id)) || 0) > Number(revision);
  };

  // Always a promise, rejected if a catch-up it started failed.
  LiveFeed.prototype.receive = function (message) {
    if (message.type === "batch") {
      var self = this;
      var messages = Array.isArray(message.messages) ? message.messages : [];
      return Promise.all(messages.map(function (each) { return self.receive(each); }));
    }
    // Not numbered: not a change (a kind of message this page does not know).
    if (typeof message.revision !== "number") return Promise.resolve();
    if (message.type === "hello" || message.type === "heartbeat") {
      if (message.revision > this.revision) return this.catchUp();
      if (message.revision === this.revision) return Promise.resolve();
      // Behind ours. hello is read once the reader has joined, after anything we have
      // seen: the server forgot. A heartbeat may just have been overtaken by a change on
      // its way, so ask: a server that forgot answers with reset.
      if (message.type === "heartbeat") return this.catchUp();
      this.restart();
      return Promise.resolve();
    }
    if (message.revision <= this.revision) return Promise.resolve();
    this.held.set(message.revision, message);
    this.drain();
    return this.held.size ? this.catchUp() : Promise.resolve();
  };

  LiveFeed.prototype.drain = function () {
    var self = this;
    while (this.held.has(this.revision + 1)) {
      var message = this.held.get(this.revision + 1);
      this.held.delete(this.revision + 1);
      this.revision += 1;
      if (message.type === "event.updated") this.onEvent(message.event);
      else if (message.entry) this.applyChange(message.entry);
    }
    this.held.forEach(function (message, revision) {
      if (revision <= self.revision) self.held.delete(revision);
    });
  };

  LiveFeed.prototype.applyChange = function (change) {
    if ((this.known.get(change.id) || 0) >= change.revision) return;
    this.known.set(change.id, change.revision);
    if (change.deleted) this.remove(change.id);
    else this.show(change);
  };

  // Ask the server for everything after our revision. One request at a time; a call
  // while one is under way asks for another once it is done.
  LiveFeed.prototype.catchUp = function () {
    var self = this;
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.again = false;
    var before = this.revision;
    this.inFlight = this.fetchChanges(this.revision)
      .then(function (answer) {
        if (answer.reset) return self.restart();
        answer.changes.forEach(function (change) { self.applyChange(change); });
        // The event as of the answer's revision: older than what we show if messages
        // beyond it arrived meanwhile (an "ended" among them, perhaps).
        if (answer.event && answer.revision >= self.revision) self.onEvent(answer.event);
        self.revision = Math.max(self.revision, answer.revision);
        self.drain();
      })
      .then(
        function () {
          self.inFlight = null;
          // Held messages beyond the server's answer: ask again only if that answer moved
          // us on, or a server behind its own messages would be asked in a tight loop.
          if (self.again || (self.held.size && self.revision > before)) return self.catchUp();
        },
        function (error) {
          self.inFlight = null;
          throw error;
        }
      );
    return this.inFlight;
  };

  root.LiveFeed = LiveFeed;
})(window);
