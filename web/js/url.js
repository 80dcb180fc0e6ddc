// The page's state in the URL fragment. history.replaceState took 0.1 to 18 ms per call in Chromium,
// measured inside the page's interactions, more than the rest of a redraw: so an interaction does not wait
// for it. The newest fragment is written a moment later (several changes in a row write once), at
// once when the page is left, and never over a fragment the user has just typed.
const DELAY_MS = 100;
let pending = null;
let timer = 0;

export function writeFragment(fragment) {
  pending = fragment;
  if (!timer) timer = setTimeout(flush, DELAY_MS);
}

function drop() {
  clearTimeout(timer);
  timer = 0;
  pending = null;
}

function flush() {
  const fragment = pending;
  drop();
  if (fragment !== null && location.hash !== fragment) history.replaceState(null, "", fragment);
}

// What the URL says, or is about to: for captions and file names that name the state.
export function currentFragment() {
  return pending ?? location.hash;
}

addEventListener("pagehide", flush);
addEventListener("hashchange", drop);  // the page reads the typed fragment and writes what it keeps of it
