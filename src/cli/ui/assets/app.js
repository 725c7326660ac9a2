/*
 * The dashboard's one script (symphony ui). Hand-written, no build step, no dependency; served
 * by the dashboard itself. It does two things:
 * - live updates: an EventSource on /events?view=<this page> receives the page's new <main>
 *   (rendered and escaped by the server) whenever the store changed it, and merges it into the
 *   page in place (morph), so that focus, scroll and open <details> stay as they are;
 * - the buttons: each asks for confirmation in a <dialog>, then POSTs to the dashboard with the
 *   CSRF header; the answer shows in a status line.
 * Text from the server is only ever set as text (textContent, attribute values), never as HTML
 * of our own making.
 */
/* global document, window, EventSource, DOMParser, fetch, setTimeout, clearTimeout, CustomEvent */
'use strict';

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
  const live = document.getElementById('live');
  const toast = document.getElementById('toast');
  let toastTimer = null;

  function setLive(state, text) {
    if (!live) return;
    live.dataset.state = state;
    live.textContent = text;
  }

  function say(text, kind) {
    if (!toast) return;
    toast.textContent = text;
    toast.dataset.kind = kind;
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      toast.hidden = true;
    }, 10000);
  }

  /** What identifies an element among its siblings across updates. */
  function keyOf(node) {
    if (node.nodeType !== 1) return '';
    return node.id || node.getAttribute('data-task') || node.getAttribute('data-state') || '';
  }

  function syncAttributes(from, to) {
    for (const attribute of Array.from(to.attributes)) {
      if (from.getAttribute(attribute.name) !== attribute.value)
        from.setAttribute(attribute.name, attribute.value);
    }
    for (const attribute of Array.from(from.attributes)) {
      // An open <details> stays open: the reader opened it.
      if (attribute.name === 'open' && from.nodeName === 'DETAILS') continue;
      if (!to.hasAttribute(attribute.name)) from.removeAttribute(attribute.name);
    }
  }

  /** Makes `from` (in the page) look like `to` (parsed from the server), reusing what is alike. */
  function morph(from, to) {
    syncAttributes(from, to);
    const old = Array.from(from.childNodes);
    const next = Array.from(to.childNodes);
    next.forEach((node, i) => {
      const here = old[i];
      if (here === undefined) {
        from.appendChild(document.importNode(node, true));
      } else if (
        here.nodeType !== node.nodeType ||
        here.nodeName !== node.nodeName ||
        keyOf(here) !== keyOf(node)
      ) {
        from.replaceChild(document.importNode(node, true), here);
      } else if (node.nodeType === 1) {
        morph(here, node);
      } else if (here.nodeValue !== node.nodeValue) {
        here.nodeValue = node.nodeValue;
      }
    });
    for (let i = old.length - 1; i >= next.length; i -= 1) from.removeChild(old[i]);
  }

  function apply(htmlText) {
    const parsed = new DOMParser().parseFromString(`<!doctype html><body>${htmlText}`, 'text/html');
    const next = parsed.getElementById('main');
    const main = document.getElementById('main');
    if (!next || !main) return;
    morph(main, next);
    document.dispatchEvent(
      new CustomEvent('symphony:updated', { detail: { version: main.dataset.version } }),
    );
  }

  function follow() {
    const main = document.getElementById('main');
    if (!main || !main.dataset.view || typeof EventSource === 'undefined') return;
    const query = `view=${encodeURIComponent(main.dataset.view)}&v=${encodeURIComponent(main.dataset.version || '')}`;
    const source = new EventSource(`/events?${query}`);
    source.addEventListener('open', () => setLive('on', 'live'));
    source.addEventListener('main', (event) => {
      setLive('on', 'live');
      apply(JSON.parse(event.data).html);
    });
    source.addEventListener('trouble', () => setLive('trouble', 'store unreachable'));
    source.addEventListener('error', () => setLive('off', 'reconnecting…'));
  }

  // --- The buttons -------------------------------------------------------------------------
  const dialog = document.getElementById('confirm');
  const signalFields = document.getElementById('confirm-signal');
  const signalName = document.getElementById('signal-name');
  const signalPayload = document.getElementById('signal-payload');

  function describe(action, body) {
    if (action === 'resume') return `Now ${body.workflow.status}.${body.note ? ` ${body.note}` : ''}`;
    if (action === 'retry')
      return `${(body.retried || []).length} task(s) retried and handed to the workers.`;
    if (action === 'signal') return `Signal ${body.name} sent.`;
    return `Now ${body.status}.`;
  }

  async function post(action, target, payload) {
    say('Working…', 'busy');
    let response;
    try {
      response = await fetch(target, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-Symphony-CSRF': csrf },
        body: JSON.stringify(payload),
      });
    } catch (error) {
      say(`The dashboard did not answer: ${error.message}`, 'error');
      return;
    }
    let body = {};
    try {
      body = await response.json();
    } catch {
      body = { error: { code: String(response.status), message: response.statusText } };
    }
    if (response.ok) say(`${action[0].toUpperCase()}${action.slice(1)}: ${describe(action, body)}`, 'ok');
    else
      say(`${action} refused: ${body.error?.code ?? response.status}: ${body.error?.message ?? ''}`, 'error');
  }

  function confirmAction(button) {
    if (!dialog || typeof dialog.showModal !== 'function') return;
    const action = button.dataset.action;
    const target = button.dataset.target;
    document.getElementById('confirm-title').textContent = button.textContent;
    document.getElementById('confirm-text').textContent = button.dataset.confirm || '';
    const isSignal = action === 'signal';
    signalFields.hidden = !isSignal;
    signalName.required = isSignal;
    if (isSignal) signalName.value = button.dataset.signal || '';
    dialog.returnValue = '';
    dialog.showModal();
    (isSignal ? signalName : document.getElementById('confirm-ok')).focus();
    dialog.addEventListener(
      'close',
      () => {
        button.focus();
        if (dialog.returnValue !== 'confirm') return;
        const payload = isSignal ? { name: signalName.value.trim(), payload: signalPayload.value } : {};
        void post(action, target, payload);
      },
      { once: true },
    );
  }

  document.addEventListener('click', (event) => {
    const button = event.target instanceof window.Element ? event.target.closest('button.action') : null;
    if (button) confirmAction(button);
  });

  /** A graph wider than its box starts scrolled to its middle, where a layered graph begins. */
  function centreGraphs() {
    for (const box of document.querySelectorAll('.graph-box')) {
      if (box.scrollWidth > box.clientWidth) box.scrollLeft = (box.scrollWidth - box.clientWidth) / 2;
    }
  }

  centreGraphs();
  follow();
})();
