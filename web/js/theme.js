// The colour theme (issue #43): <html data-theme="light|dark">, from the reader's choice kept in
// localStorage, else from prefers-color-scheme, followed as it changes. A classic script in <head>,
// so the first paint already has the theme's colours (web/style.css holds them); the page's switch
// (#theme-picker) is wired by wireThemePicker.
(() => {
  const KEY = "vitlens-theme";
  const CHOICES = ["system", "light", "dark"];
  const query = matchMedia("(prefers-color-scheme: dark)");
  const chosen = () => {
    try {
      const choice = localStorage.getItem(KEY);
      return CHOICES.includes(choice) ? choice : "system";
    } catch {
      return "system";  // storage refused (a private window in some browsers): the system's theme
    }
  };
  const apply = () => {
    const choice = chosen();
    document.documentElement.dataset.theme = choice === "system" ? (query.matches ? "dark" : "light") : choice;
  };
  const choose = (choice) => {
    try {
      if (choice === "system") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, choice);
    } catch { /* not kept, but applied */ }
    apply();
  };
  query.addEventListener("change", apply);
  apply();
  // The switch: its value is the choice ("system" follows the system).
  self.wireThemePicker = (select) => {
    select.value = chosen();
    select.addEventListener("change", () => choose(select.value));
  };
})();
