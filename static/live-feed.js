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
//   something; a hello may bring what we missed (the socket's URL says our revision).
//   Behind ours, the server is asked: it may only be late, or it forgot (another
//   database), and then its answer says to start again.
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
      // A hello to a reader that said its revision carries what it missed.
      if (message.catch_up && !this.apply(message.catch_up)) return Promise.resolve();
      if (message.revision > this.revision) return this.catchUp();
      if (message.revision === this.revision) return Promise.resolve();
      // Behind ours: a change on its way may have overtaken it (a heartbeat read a moment
      // ago; a server process that has not heard of the change yet), or the server
      // forgot (another database). Ask: a server that forgot answers with reset.
      return this.catchUp();
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

  // An answer of changes/?since=: false if it says to start again (and the page does).
  LiveFeed.prototype.apply = function (answer) {
    var self = this;
    if (answer.reset) {
      this.restart();
      return false;
    }
    answer.changes.forEach(function (change) { self.applyChange(change); });
    // The event as of the answer's revision: older than what we show if messages
    // beyond it arrived meanwhile (an "ended" among them, perhaps).
    if (answer.event && answer.revision >= this.revision) this.onEvent(answer.event);
    this.revision = Math.max(this.revision, answer.revision);
    this.drain();
    return true;
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
      .then(function (answer) { self.apply(answer); })
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
