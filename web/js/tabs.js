// The view tabs as the WAI-ARIA tabs pattern (automatic activation): the selected tab alone is in
// the Tab order (web/py/app.py's show_view sets aria-selected and tabindex); the arrow keys, Home
// and End move to another tab and select it, as a click does.
export function keyboardTabs(tablist) {
  tablist.addEventListener("keydown", (event) => {
    const tabs = [...tablist.querySelectorAll("[role=tab]")];
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0,
                   End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const tab = tabs[(next + tabs.length) % tabs.length];
    tab.focus();
    tab.click();
  });
}
