// ink imports react-devtools-core statically but only uses it when DEV=true; the bundle aliases
// it here so it is not bundled (and does not fail at start).
module.exports = {};
