// Lighthouse's own command line (node_modules/.bin/lighthouse, same arguments), which
// exits once it is done: left to itself, Node stays up to 5 s longer on every run, for a
// timer Lighthouse 12.8's image gatherer never clears (core/gather/gatherers/
// image-elements.js, collectExtraDetails). Its errors exit as its command line's do.
import { begin } from "./node_modules/lighthouse/cli/bin.js";

await begin();
process.exit(0);
