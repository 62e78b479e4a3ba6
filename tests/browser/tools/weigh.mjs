// Weighs each role's main page as a browser loads it: bytes on the wire (compressed, as the
// server sends them with gzip), requests, and the time from navigation until the page's
// heading shows. First visit (nothing cached) and a second visit (files revalidated by ETag).
// Usage: YIFEI_BIN=../../target/debug/yifei node tools/weigh.mjs   (prints a Markdown table)
import { startServer, launch, openPage, signIn } from '../lib/harness.mjs';

const PAGES = [
  ['bureau', '/#/bureau', 1280], ['bureau', '/#/bureau/map', 1280], ['dispatch', '/#/dispatch', 1280],
  ['clinic', '/#/clinic', 360], ['plant', '/#/plant', 1280], ['admin', '/#/admin', 1280], ['driver1', '/#/driver', 360],
];

const server = await startServer();
const browser = await launch();

/** Bytes (headers and compressed bodies) and requests while `fn` runs. */
async function weigh(page, fn) {
  let bytes = 0; let requests = 0;
  const done = [];
  const onDone = (req) => done.push(req.sizes().then((s) => { bytes += s.responseBodySize + s.responseHeadersSize; requests++; }).catch(() => {}));
  page.on('requestfinished', onDone);
  const t0 = Date.now();
  await fn();
  const ms = Date.now() - t0;
  // Requests the page makes right after its heading (the rest of its data, the service
  // worker's own fetch of the shell) still count; the page never goes idle for long (the
  // driver's page polls), so a fixed second is waited rather than network idle.
  await page.waitForTimeout(1500);
  page.off('requestfinished', onDone);
  await Promise.all(done);
  return { kb: (bytes / 1024).toFixed(1), requests, ms };
}

// The shell, cold: a browser that has never seen the console opens the sign-in page.
{
  const page = await openPage(browser, server.base);
  const w = await weigh(page, async () => { await page.goto(server.base + '/'); await page.locator('main h1').waitFor(); });
  console.log(`Cold start (sign-in page, every file once): ${w.kb} KB in ${w.requests} requests, ${w.ms} ms.\n`);
  await page.context().close();
}
console.log('| page | login | width | KB on the wire (requests) | ms until its data shows |');
console.log('|---|---|---|---|---|');
for (const [login, path, width] of PAGES) {
  const page = await openPage(browser, server.base, { viewport: { width, height: 800 } });
  await signIn(page, server.base, login);
  await page.goto('about:blank');
  const w = await weigh(page, async () => { await page.goto(server.base + path); await page.locator('main h1').first().waitFor(); });
  console.log(`| \`${path}\` | ${login} | ${width} | ${w.kb} (${w.requests}) | ${w.ms} |`);
  await page.context().close();
}
await browser.close();
await server.stop();
