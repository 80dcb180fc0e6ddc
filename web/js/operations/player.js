// The player every operation view shares: play, pause, step back and forward, the arrow keys and,
// optionally, a field to type the step to go to. A view only says how to draw step i. With reduced
// motion asked for, nothing plays: the view opens at its end state, and "End" goes there again.
import { el, motion } from "../dom.js";

// Steps 0..count-1 in `dialog`, drawn by `show(i)`; with `jump`, a number field labelled so lets
// the user type the step (a patch, a token, a feature). Returns { play, go, stop }.
export function player(dialog, count, show, jump) {
  const bar = dialog.appendChild(el("div", "operation-controls"));
  const button = (label, text) => {
    const b = bar.appendChild(el("button", null, text));
    b.type = "button";
    b.setAttribute("aria-label", label);
    return b;
  };
  const still = motion(1) === 0;
  const back = button("Step back", "◀");
  const play = still ? button("Show the end", "▶| End") : button("Play", "▶ Play");
  const next = button("Step forward", "▶|");
  const position = bar.appendChild(el("span", "operation-position"));
  let step = 0;
  let timer = null;
  const field = jump ? jumpField(bar, jump, count) : null;
  const go = (i) => {
    step = Math.max(0, Math.min(count - 1, i));
    position.textContent = `step ${step + 1} of ${count}`;
    dialog.dataset.step = String(step);
    if (field) field.value = String(step);
    show(step);
  };
  const stop = () => {
    if (!timer) return;
    clearInterval(timer);
    timer = null;
    play.textContent = "▶ Play";
    play.setAttribute("aria-label", "Play");
  };
  field?.addEventListener("change", () => {
    const i = Number(field.value);
    if (field.value === "" || !Number.isInteger(i) || i < 0 || i >= count) {
      position.textContent = `type a whole number from 0 to ${count - 1}; staying at ${step}`;
      field.value = String(step);
      return;
    }
    stop();
    go(i);
  });
  play.addEventListener("click", () => {
    if (still) return go(count - 1);
    if (timer) return stop();
    play.textContent = "❚❚ Pause";
    play.setAttribute("aria-label", "Pause");
    timer = setInterval(() => (step >= count - 1 ? stop() : go(step + 1)), 30);
  });
  back.addEventListener("click", () => { stop(); go(step - 1); });
  next.addEventListener("click", () => { stop(); go(step + 1); });
  dialog.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" || event.target.tagName === "SELECT") return;
    if (event.key === "ArrowRight") { stop(); go(step + 1); event.preventDefault(); }
    if (event.key === "ArrowLeft") { stop(); go(step - 1); event.preventDefault(); }
  });
  dialog.addEventListener("close", () => { stop(); dialog.remove(); });
  dialog.stopAnimation = stop;
  go(still ? count - 1 : 0);
  return { play, go, stop };
}

function jumpField(bar, jump, count) {
  const label = bar.appendChild(el("label", null, `${jump} `));
  const field = label.appendChild(el("input"));
  Object.assign(field, { type: "number", min: 0, max: count - 1, step: 1, className: "operation-jump" });
  return field;
}
