// The modal dialog, written once for the operation views and the knowledge graph's node details:
// a <dialog> whose header holds its title and a close button. showModal gives it role=dialog, makes
// the page behind inert and closes it on Escape; Tab and Shift+Tab cycle inside it (trapFocus),
// and closing it gives focus back to what had it. `name` prefixes its classes: dialog.<name>-dialog, .<name>-title and
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
  trapFocus(dialog);
  return { dialog, title, close };
}

const FOCUSABLE = "button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea, a[href], [tabindex='0']";

// Tab from the dialog's last control goes to its first, Shift+Tab from the first to the last (a
// modal dialog's focus would otherwise leave for the browser's own controls).
function trapFocus(dialog) {
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const inside = [...dialog.querySelectorAll(FOCUSABLE)].filter((e) => e.getClientRects().length > 0);
    if (!inside.length) return;
    const [first, last] = [inside[0], inside.at(-1)];
    if (event.shiftKey ? document.activeElement === first : document.activeElement === last) {
      event.preventDefault();
      (event.shiftKey ? last : first).focus();
    }
  });
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
