/**
 * A jsdom window as the globals React and Testing Library expect. Import it first: react-dom decides
 * at load time whether it runs in a DOM. Each test file runs in its own process.
 */
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>', {
  url: 'http://localhost/',
  pretendToBeVisual: true,
});
const globals = globalThis as Record<string, unknown>;
for (const key of Object.getOwnPropertyNames(dom.window)) {
  if (key in globals) continue; // keep Node's own (timers, fetch, URL, Event, ...)
  try {
    globals[key] = (dom.window as unknown as Record<string, unknown>)[key];
  } catch {
    // a getter jsdom does not implement
  }
}
globals.window = dom.window;
globals.document = dom.window.document;
globals.IS_REACT_ACT_ENVIRONMENT = true;
