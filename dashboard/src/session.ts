/**
 * The signed-in API key lives in sessionStorage only: gone when the tab closes, never written to
 * localStorage, a cookie or a URL.
 */
const KEY = "factory.apiKey";

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  signIn: (key: string): void => sessionStorage.setItem(KEY, key),
  signOut: (): void => sessionStorage.clear(),
};
