import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's chromium, headless, driven by playwright-core: for the dashboard's browser tests and
 * `npm run screenshots`. Without the background-networking flags chromium's own connections are
 * refused by a closed network. `executablePath` defaults to /usr/bin/chromium.
 */
export function launchChromium(
  options: { executablePath?: string; extraArgs?: readonly string[] } = {},
): Promise<Browser> {
  return chromium.launch({
    executablePath: options.executablePath ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(options.extraArgs ?? []),
    ],
  });
}
