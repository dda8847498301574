/**
 * What a page tells assistive technology: its title, where focus lands when it opens, and a
 * polite live region that reads out page changes and decisions (index.html's #announcer, outside
 * #app so a new page does not replace it).
 */
const SUFFIX = "Factory Runtime";

/** The document's title: the page's own parts first, the product last (WCAG 2.4.2). */
export function setTitle(...parts: string[]): void {
  document.title = [...parts.filter((p) => p !== ""), SUFFIX].join(" · ");
}

/** Reads `message` out once, politely (after what the reader is saying now). */
export function announce(message: string): void {
  const region = document.getElementById("announcer");
  if (!region) return;
  // The same text twice in a row is not a change to a live region: clear it first.
  region.textContent = "";
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/** Moves focus to the page's heading, so a keyboard or screen reader starts at the new page. */
export function focusHeading(root: HTMLElement): void {
  const heading = root.querySelector("h1");
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}
