// The modal dialog, written once for the operation views and the knowledge graph's node details:
// a <dialog> whose header holds its title and a close button. showModal gives it role=dialog, a
// focus trap and Escape. `name` prefixes its classes: dialog.<name>-dialog, .<name>-title and
// .<name>-close, so each view styles its own.
import { el } from "./dom.js";

export function modal(name, heading, titleId) {
  const dialog = el("dialog", `${name}-dialog`);
  dialog.setAttribute("aria-labelledby", titleId);
  dialog.setAttribute("aria-modal", "true");
  const header = dialog.appendChild(el("header"));
  const title = header.appendChild(el(heading, `${name}-title`));
  title.id = titleId;
  const close = header.appendChild(el("button", `${name}-close`, "×"));
  close.type = "button";
  close.setAttribute("aria-label", "Close");
  close.addEventListener("click", () => dialog.close());
  return { dialog, title, close };
}

// A click on the backdrop, outside the dialog's box, closes it.
export function closeOnBackdrop(dialog) {
  dialog.addEventListener("click", (event) => {
    const r = dialog.getBoundingClientRect();
    const inside = event.clientX >= r.left && event.clientX <= r.right && event.clientY >= r.top &&
      event.clientY <= r.bottom;
    if (event.target === dialog && !inside) dialog.close();
  });
}
