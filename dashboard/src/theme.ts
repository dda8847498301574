/**
 * Light or dark: the system's preference (prefers-color-scheme) until the person picks one with
 * the top bar's toggle; the pick is kept in localStorage. Only the theme is kept there: the API
 * key stays in sessionStorage (session.ts).
 */
export type Theme = "light" | "dark";

const KEY = "factory.theme";
const media = () => window.matchMedia("(prefers-color-scheme: dark)");

function stored(): Theme | null {
  const v = localStorage.getItem(KEY);
  return v === "light" || v === "dark" ? v : null;
}

/** The theme in force: the stored pick, else the system's. */
export function currentTheme(): Theme {
  return stored() ?? (media().matches ? "dark" : "light");
}

const listeners = new Set<(t: Theme) => void>();

function apply(): void {
  const theme = currentTheme();
  document.documentElement.dataset.theme = theme;
  for (const l of listeners) l(theme);
}

/** Sets the theme at start-up and follows the system's while no pick is stored. */
export function initTheme(): void {
  apply();
  media().addEventListener("change", apply);
}

/** Keeps `theme` as the person's pick and applies it. */
export function setTheme(theme: Theme): void {
  localStorage.setItem(KEY, theme);
  apply();
}

/** Calls `listener` after every change of theme (charts repaint in the new palette). */
export function onThemeChange(listener: (t: Theme) => void): void {
  listeners.add(listener);
}
