// The nestjs-cors playground: runs each scenario from this origin against the sample API and shows
// what the browser allowed, what the server saw, and why the module refused. No framework.
// The browser tests drive it through window.playground (run, runAll).

const API = window.PLAYGROUND.api;
const HERE = location.origin;
const short = () => Math.random().toString(36).slice(2, 6);
const json = (value) => ({ 'Content-Type': 'application/json', body: JSON.stringify(value) });
/** Logging in: the API sets the session cookie (see the "Log in" scenario). */
const LOGIN = {
  method: 'POST',
  path: '/account/login',
  credentials: 'include',
  ...json({ email: 'ada@example.com' }),
};

/**
 * Each scenario: one or more fetch() calls made by this page, then, with `socket`, a WebSocket
 * opened to a gateway. `route` finds its policy in the module's report; `expect` is what a browser
 * must do with it. Every scenario runs on its own, in any order: one that needs a cookie logs in
 * first itself.
 */
const SCENARIOS = [
  {
    id: 'public-catalog',
    group: 'Simple requests: no preflight',
    title: 'Browse the public catalog',
    explain: "origin '*' lets any site read it. The page reads only the safelisted headers.",
    route: 'GET /catalog/products',
    expect: { verdict: 'allowed', status: 200 },
    requests: () => [{ method: 'GET', path: '/catalog/products' }],
  },
  {
    id: 'exposed-header',
    group: 'Simple requests: no preflight',
    title: 'Read a response header',
    explain: 'exposedHeaders: [X-Request-Id] makes that header readable by the page.',
    route: 'GET /catalog/products/:id',
    expect: { verdict: 'allowed', status: 200, readable: 'x-request-id' },
    requests: () => [{ method: 'GET', path: '/catalog/products/sku-2' }],
  },
  {
    id: 'admin-read',
    group: 'Simple requests: no preflight',
    title: "Admin list, policy 'admin'",
    explain:
      'The named policy does not list this origin: no CORS headers. The handler still ran: CORS hides the answer, it does not protect the server.',
    route: 'GET /admin/users',
    expect: { verdict: 'blocked' },
    requests: () => [{ method: 'GET', path: '/admin/users' }],
  },
  {
    id: 'cors-off',
    group: 'Simple requests: no preflight',
    title: 'Internal metrics, @Cors(false)',
    explain: 'CORS is off on this route: the module adds no header and logs nothing.',
    whyBlocked:
      'The module logged nothing: @Cors(false) turns CORS off, so no Access-Control-Allow-Origin was sent.',
    route: 'GET /internal/metrics',
    expect: { verdict: 'blocked' },
    requests: () => [{ method: 'GET', path: '/internal/metrics' }],
  },
  {
    id: 'guard-401',
    group: 'Simple requests: no preflight',
    title: 'Orders without a token: 401',
    explain:
      'An auth guard refuses the request. The 401 carries the CORS headers, so the page can read it and show a login prompt.',
    route: 'GET /orders',
    expect: { verdict: 'allowed', status: 401 },
    requests: () => [{ method: 'GET', path: '/orders' }],
  },
  {
    id: 'login',
    group: "Cookies: credentials: 'include'",
    title: 'Log in: the API sets a cookie',
    explain:
      'credentials: true + this exact origin. JSON makes the browser preflight it; Set-Cookie is never readable, but the browser stores the cookie.',
    route: 'POST /account/login',
    expect: { verdict: 'allowed', status: 200 },
    requests: () => [
      {
        method: 'POST',
        path: '/account/login',
        credentials: 'include',
        ...json({ email: 'ada@example.com' }),
      },
    ],
  },
  {
    id: 'me',
    group: "Cookies: credentials: 'include'",
    title: 'Who am I: the cookie goes along',
    explain:
      'Logs in first (the answer sets the session cookie), then asks who is logged in: the browser sends the cookie with the GET, and the page reads the answer.',
    route: 'GET /account/me',
    expect: { verdict: 'allowed', status: 200 },
    requests: () => [
      {
        method: 'POST',
        path: '/account/login',
        credentials: 'include',
        ...json({ email: 'ada@example.com' }),
      },
      { method: 'GET', path: '/account/me', credentials: 'include' },
    ],
  },
  {
    id: 'wildcard-credentials',
    group: "Cookies: credentials: 'include'",
    title: "Cookies to the public '*' resource",
    explain:
      "The server allows every origin with '*', but a browser never accepts '*' with credentials.",
    whyBlocked:
      'The module logged nothing (the policy allows every origin). The browser refused Access-Control-Allow-Origin: * because the request included credentials.',
    route: 'GET /catalog/products',
    expect: { verdict: 'blocked' },
    requests: () => [{ method: 'GET', path: '/catalog/products', credentials: 'include' }],
  },
  {
    id: 'cart-put',
    group: 'Preflighted writes',
    title: 'Add to cart: PUT with JSON',
    explain:
      'PUT and Content-Type: application/json both need a preflight. The module answers it with the policy of the PUT route.',
    route: 'PUT /cart/items/:sku',
    expect: { verdict: 'allowed', status: 200 },
    requests: () => [
      { method: 'PUT', path: `/cart/items/sku-${short()}`, ...json({ quantity: 2 }) },
    ],
  },
  {
    id: 'cart-delete',
    group: 'Preflighted writes',
    title: 'Remove from cart: DELETE',
    explain: 'DELETE is not a simple method: preflight first, then the DELETE (204, no body).',
    route: 'DELETE /cart/items/:sku',
    expect: { verdict: 'allowed', status: 204 },
    requests: () => [{ method: 'DELETE', path: `/cart/items/sku-${short()}` }],
  },
  {
    id: 'cached-preflight',
    group: 'Preflighted writes',
    title: 'Change quantity twice: cached preflight',
    explain:
      "maxAge: 600 lets the browser reuse the preflight answer: two PATCHes, at most one OPTIONS. Chromium skips its preflight cache for cache: 'no-store', 'no-cache' and 'reload'.",
    route: 'PATCH /cart/items/:sku',
    expect: { verdict: 'allowed', status: 200 },
    requests: () => [
      { method: 'PATCH', path: '/cart/items/sku-1', cache: 'default', ...json({ quantity: 3 }) },
      { method: 'PATCH', path: '/cart/items/sku-1', cache: 'default', ...json({ quantity: 4 }) },
    ],
  },
  {
    id: 'header-denied',
    group: 'Preflighted writes',
    title: 'A request header the policy does not allow',
    explain:
      'The cart allows only Content-Type and X-Request-Id. X-Coupon fails the preflight (403) and the PUT is never sent.',
    route: 'PUT /cart/items/:sku',
    expect: { verdict: 'blocked' },
    requests: () => [
      {
        method: 'PUT',
        path: `/cart/items/sku-${short()}`,
        headers: { 'X-Coupon': 'SPRING' },
        ...json({ quantity: 1 }),
      },
    ],
  },
  {
    id: 'admin-write',
    group: 'Preflighted writes',
    title: "Change a role, policy 'admin'",
    explain:
      'The preflight is refused (403, no CORS headers), so the browser never sends the PUT: the handler does not run.',
    route: 'PUT /admin/users/:id/role',
    expect: { verdict: 'blocked' },
    requests: () => [{ method: 'PUT', path: '/admin/users/7/role', ...json({ role: 'admin' }) }],
  },
  {
    id: 'ws-cart',
    group: 'WebSockets: no CORS, the module checks the handshake',
    title: 'Live cart updates: new WebSocket()',
    explain:
      "Logs in first, then opens a WebSocket. Browsers apply no CORS to WebSockets and send the cookie with the handshake; the module checks its Origin against the gateway's policy (the module defaults allow this page). It opens, and the gateway knows who is logged in.",
    route: 'WEBSOCKET /live/cart',
    expect: { verdict: 'allowed' },
    requests: () => [LOGIN],
    socket: { path: '/live/cart', send: { event: 'hello', data: 'hi' } },
  },
  {
    id: 'ws-admin',
    group: 'WebSockets: no CORS, the module checks the handshake',
    title: "Admin feed, policy 'admin': a hijack refused",
    explain:
      "Logs in first: the browser sends the session cookie with this handshake too, so any site could act as the user over the socket. The 'admin' policy does not list this origin: the module answers 403, the socket never opens and the gateway never runs.",
    whyBlocked: 'The module refused the handshake (403); the browser tells the page nothing more.',
    route: 'WEBSOCKET /live/admin',
    expect: { verdict: 'blocked' },
    requests: () => [LOGIN],
    socket: { path: '/live/admin', send: { event: 'hello', data: 'hi' } },
  },
];

// ----- talking to the API ------------------------------------------------------------------------

let report = [];
let lastSeq = 0;

async function api(path) {
  const res = await fetch(API + path);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

/** One fetch() exactly as a page would do it; never throws. */
async function send(request) {
  const headers = { ...request.headers };
  if (request['Content-Type']) headers['Content-Type'] = request['Content-Type'];
  // no-store: every request reaches the server, so "Server saw" never shows an HTTP-cache 304.
  const init = { method: request.method, headers, cache: request.cache ?? 'no-store' };
  if (request.body !== undefined) init.body = request.body;
  if (request.credentials) init.credentials = request.credentials;
  try {
    const res = await fetch(API + request.path, init);
    const body = await res.text();
    return {
      request,
      ok: true,
      status: res.status,
      headers: Object.fromEntries(res.headers.entries()),
      body: body.slice(0, 300),
    };
  } catch (error) {
    return { request, ok: false, error: `${error.name}: ${error.message}` };
  }
}

/** A scenario's WebSocket, as shown on its card and in its result. */
const socketRequest = ({ path, send: message }) => ({ method: 'WEBSOCKET', path, message });

/** Every request a scenario makes: its fetches, then its WebSocket. */
const requestsOf = (scenario) => [
  ...scenario.requests(),
  ...(scenario.socket ? [socketRequest(scenario.socket)] : []),
];

/**
 * `new WebSocket()` exactly as a page would do it: sends one message once open, closes after the
 * reply. What the page gets to know: events only. A refused handshake is an `error` event and a
 * close with code 1006, without the status or any reason (those are in the browser console).
 */
function openSocket(socket) {
  const request = socketRequest(socket);
  const url = API.replace(/^http/, 'ws') + request.path;
  const message = request.message;
  return new Promise((resolve) => {
    const events = [];
    let reply;
    const socket = new WebSocket(url);
    socket.onopen = () => {
      events.push('open');
      socket.send(JSON.stringify(message));
    };
    socket.onmessage = (event) => {
      events.push('message');
      reply = String(event.data);
      socket.close(1000);
    };
    socket.onerror = () => events.push('error');
    socket.onclose = (event) => {
      events.push(`close ${event.code}`);
      const ok = events.includes('open') && reply !== undefined;
      resolve({
        request,
        websocket: true,
        ok,
        events,
        ...(ok ? { body: reply.slice(0, 300) } : { error: `${events.join(', then ')}` }),
      });
    };
  });
}

/** Runs one scenario and returns everything the page and the server saw. */
async function run(id) {
  const scenario = SCENARIOS.find((s) => s.id === id);
  if (!scenario) throw new Error(`unknown scenario ${id}`);
  const card = document.getElementById(`scenario-${id}`);
  card.classList.add('running');
  const since = lastSeq;
  const requests = scenario.requests();
  const fetches = [];
  for (const request of requests) fetches.push(await send(request));
  if (scenario.socket) fetches.push(await openSocket(scenario.socket));
  const paths = new Set(fetches.map((f) => f.request.path));
  const [seen, logged] = await Promise.all([
    api(`/cors/requests?since=${since}`),
    api(`/cors/denials?since=${since}`),
  ]);
  lastSeq = Math.max(seen.last, logged.last);
  const mine = (entry) => paths.has(entry.path) && entry.origin === HERE;
  const result = {
    id,
    verdict: fetches.every((f) => f.ok) ? 'allowed' : 'blocked',
    // A WebSocket has no status the page can read: null.
    status: fetches.at(-1).ok ? (fetches.at(-1).status ?? null) : null,
    fetches,
    server: seen.requests.filter(mine),
    denials: logged.denials.filter(mine),
  };
  result.asExpected =
    result.verdict === scenario.expect.verdict &&
    (scenario.expect.status === undefined || result.status === scenario.expect.status);
  card.classList.remove('running');
  renderResult(scenario, result);
  return result;
}

/** Runs every scenario, one after the other (so the server log of each stays its own). */
async function runAll() {
  const button = document.getElementById('run-all');
  button.disabled = true;
  const results = [];
  try {
    for (const scenario of SCENARIOS) results.push(await run(scenario.id));
  } finally {
    button.disabled = false;
  }
  const good = results.filter((r) => r.asExpected).length;
  setSummary(
    `${good} of ${results.length} scenarios behaved as expected.`,
    good === results.length,
  );
  document.body.dataset.ran = 'all';
  return results;
}

// ----- rendering -----------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('data-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setSummary(text, good) {
  const summary = document.getElementById('summary');
  summary.textContent = text;
  summary.className = good === undefined ? '' : good ? 'good' : 'bad';
}

/** The requests of a scenario as shown on its card: each once, with "× n" when repeated. */
function requestsText(requests) {
  const texts = requests.map(requestText);
  if (texts.every((text) => text === texts[0]) && texts.length > 1) {
    return `${texts[0]}\n× ${texts.length}`;
  }
  return texts.join('\n\n');
}

function requestText(request) {
  if (request.method === 'WEBSOCKET') {
    const url = `${API.replace(/^http/, 'ws')}${request.path}`;
    return `new WebSocket('${url}')\nsend ${JSON.stringify(request.message)}`;
  }
  const lines = [`${request.method} ${request.path}`];
  if (request['Content-Type']) lines.push(`Content-Type: ${request['Content-Type']}`);
  for (const [name, value] of Object.entries(request.headers ?? {}))
    lines.push(`${name}: ${value}`);
  if (request.credentials) lines.push(`credentials: '${request.credentials}'`);
  if (request.cache) lines.push(`cache: '${request.cache}'`);
  return lines.join('\n');
}

function originsOf(policy) {
  if (policy.origins === '*') return { text: ["'*' (any origin)"], allowsHere: true };
  if (Array.isArray(policy.origins)) {
    return { text: policy.origins, allowsHere: policy.origins.includes(HERE) };
  }
  return { text: [String(policy.origins)], allowsHere: null };
}

function renderPolicy(scenario) {
  const [method, path] = scenario.route.split(' ');
  const row = report.find((r) => r.method === method && r.path === path);
  if (!row) return el('div', { class: 'policy muted' }, `no route ${scenario.route} in the report`);
  const box = el('div', { class: 'policy' });
  box.append(
    el('div', { class: 'route' }, el('code', {}, `${row.method} ${row.path}`)),
    el('div', { class: 'source' }, 'declared by ', el('strong', {}, row.source)),
  );
  if (row.policy === null) {
    box.append(el('div', { class: 'off' }, 'CORS off: no Access-Control-* headers'));
    return box;
  }
  const p = row.policy;
  const origins = originsOf(p);
  const dl = el('dl');
  const item = (term, value, cls) => dl.append(el('dt', {}, term), el('dd', { class: cls }, value));
  const originItem = () =>
    item(
      'origin',
      [
        origins.text.map((origin, i) => [i ? ', ' : '', el('span', { class: 'origin' }, origin)]),
        origins.allowsHere === null
          ? ''
          : el(
              'span',
              { class: origins.allowsHere ? 'chip yes' : 'chip no' },
              origins.allowsHere ? '✓ this page' : '✗ not this page',
            ),
      ],
      origins.allowsHere === false ? 'no' : undefined,
    );
  if (row.method === 'WEBSOCKET') {
    // A handshake is an origin decision: no Access-Control-* headers, methods or request headers.
    box.querySelector('.source').append(` (gateway ${row.handler})`);
    originItem();
    item('handshake', 'Origin checked: refused → 403, no connection');
    item('no Origin', p.enforce ? 'refused (enforce: true)' : 'allowed (non-browser clients)');
    box.append(dl);
    return box;
  }
  originItem();
  item('credentials', p.credentials ? 'true (cookies)' : 'false');
  item(
    'methods',
    p.methods === 'route'
      ? `${method} (not set: the methods this route serves)`
      : [].concat(p.methods).join(', '),
  );
  item('request headers', p.allowedHeaders === 'any' ? 'any' : p.allowedHeaders.join(', '));
  if (p.exposedHeaders) item('exposed headers', p.exposedHeaders);
  if (p.maxAge !== undefined) item('maxAge', `${p.maxAge} s`);
  box.append(dl);
  return box;
}

const BORING = new Set([
  'connection',
  'content-length',
  'date',
  'keep-alive',
  'vary',
  'x-powered-by',
]);

function renderResult(scenario, result) {
  const box = document.querySelector(`#scenario-${scenario.id} .result`);
  box.replaceChildren();
  const last = result.fetches.at(-1);
  const badge = el(
    'span',
    { class: `badge ${result.verdict}` },
    result.verdict === 'allowed' ? `allowed · ${result.status ?? 'open'}` : 'blocked',
  );
  const expected = el(
    'span',
    { class: result.asExpected ? 'expect good' : 'expect bad' },
    result.asExpected ? '✓ as expected' : `✗ expected ${scenario.expect.verdict}`,
  );
  box.append(el('div', { class: 'verdict' }, badge, expected));

  if (last.websocket) {
    // What the page can know of a WebSocket: its events, and the messages once open.
    box.append(
      el(
        'div',
        { class: 'line' },
        el('span', { class: 'label' }, 'Page got'),
        el(
          'span',
          { class: 'grow' },
          el('code', {}, last.events.join(' → ')),
          last.ok ? '' : el('span', { class: 'muted' }, ': no status, no reason'),
        ),
      ),
    );
    if (last.ok) {
      box.append(
        el(
          'div',
          { class: 'line' },
          el('span', { class: 'label' }, 'Reply'),
          el('code', { class: 'body', title: last.body }, last.body),
        ),
      );
    } else {
      const why = result.denials.at(-1);
      box.append(
        el(
          'div',
          { class: 'line why' },
          el('span', { class: 'label' }, why ? 'Module logged' : 'Why'),
          why
            ? el('span', {}, why.reason)
            : el('span', {}, scenario.whyBlocked ?? 'nothing logged'),
        ),
      );
    }
  } else if (last.ok) {
    const readable = Object.entries(last.headers);
    box.append(
      el(
        'div',
        { class: 'line' },
        el('span', { class: 'label' }, 'Page could read'),
        el(
          'span',
          { class: 'headers' },
          readable.length === 0 ? el('span', { class: 'muted' }, 'no header') : '',
          readable.map(([name, value]) =>
            el(
              'code',
              { class: name === scenario.expect.readable ? 'hl' : '' },
              `${name}: ${value}`,
            ),
          ),
        ),
      ),
    );
    const actual = result.server.filter((e) => !e.preflight).at(-1);
    const hidden = (actual?.responseHeaders ?? []).filter(
      (name) => !(name in last.headers) && !BORING.has(name) && !name.startsWith('access-control-'),
    );
    if (hidden.length) {
      box.append(
        el(
          'div',
          { class: 'line' },
          el('span', { class: 'label' }, 'Hidden from it'),
          el(
            'span',
            { class: 'headers' },
            hidden.map((name) => el('code', { class: 'hidden' }, name)),
          ),
        ),
      );
    }
    if (last.body) {
      box.append(
        el(
          'div',
          { class: 'line' },
          el('span', { class: 'label' }, 'Body'),
          el('code', { class: 'body', title: last.body }, last.body),
        ),
      );
    }
  } else {
    box.append(
      el(
        'div',
        { class: 'line' },
        el('span', { class: 'label' }, 'Page got'),
        el(
          'span',
          { class: 'grow' },
          el('code', {}, last.error),
          el('span', { class: 'muted' }, ', nothing else'),
        ),
      ),
    );
    const why = result.denials.at(-1);
    box.append(
      el(
        'div',
        { class: 'line why' },
        el('span', { class: 'label' }, why ? 'Module logged' : 'Why'),
        why ? el('span', {}, why.reason) : el('span', {}, scenario.whyBlocked ?? 'nothing logged'),
      ),
    );
  }

  const saw = el('ol', { class: 'server' });
  for (const entry of result.server) {
    const what = entry.websocket
      ? [el('span', { class: 'tag' }, 'WebSocket'), ' handshake ', el('strong', {}, entry.method)]
      : entry.preflight
        ? [
            el('span', { class: 'tag' }, 'preflight'),
            ` OPTIONS for ${entry.requestMethod}`,
            entry.requestHeaders ? ` + ${entry.requestHeaders}` : '',
          ]
        : [el('strong', {}, entry.method)];
    saw.append(
      el(
        'li',
        {},
        ...what,
        ' → ',
        el('span', { class: `status s${String(entry.status)[0]}` }, entry.status ?? '…'),
        entry.cookie ? el('span', { class: 'tag cookie' }, 'cookie sent') : '',
      ),
    );
  }
  const handshake = result.server.find((e) => e.websocket);
  const skipped = result.fetches.length - result.server.filter((e) => !e.preflight).length;
  const preflights = result.server.filter((e) => e.preflight).length;
  let note = '';
  if (result.server.length === 0) note = 'nothing reached the server';
  else if (handshake && handshake.status !== 101)
    note = `the socket never opened: no gateway code ran${handshake.cookie ? ', though the browser sent the cookie' : ''}`;
  else if (handshake?.cookie) note = 'the browser sent the cookie with the handshake';
  else if (skipped > 0 && result.verdict === 'blocked' && preflights > 0)
    note = `the ${last.request.method} was never sent`;
  else if (scenario.id === 'cached-preflight' && preflights === 0)
    note = 'no preflight: the browser reused the answer it cached earlier (maxAge)';
  else if (scenario.id === 'cached-preflight' && preflights < result.fetches.length)
    note = `one preflight for ${result.fetches.length} PATCHes: the browser cached the answer`;
  box.append(
    el(
      'div',
      { class: 'line' },
      el('span', { class: 'label' }, 'Server saw'),
      saw,
      note ? el('span', { class: 'note' }, note) : '',
    ),
  );
  const card = box.closest('.card');
  card.dataset.verdict = result.verdict;
  card.querySelector('pre').textContent = requestsText(result.fetches.map((f) => f.request));
}

function renderScenarios() {
  const main = document.getElementById('scenarios');
  let group;
  SCENARIOS.forEach((scenario, index) => {
    if (scenario.group !== group) {
      group = scenario.group;
      main.append(el('h2', {}, group));
    }
    const button = el(
      'button',
      { type: 'button', class: 'run', title: 'Run this scenario' },
      'Run',
    );
    button.addEventListener('click', () => run(scenario.id));
    const card = el(
      'article',
      { class: 'card', id: `scenario-${scenario.id}`, 'data-id': scenario.id },
      el(
        'div',
        { class: 'what' },
        el('h3', {}, el('span', { class: 'num' }, index + 1), scenario.title, button),
        el('p', {}, scenario.explain),
        el('pre', {}, requestsText(requestsOf(scenario))),
      ),
      renderPolicy(scenario),
      el('div', { class: 'result' }, el('span', { class: 'muted' }, 'Not run yet')),
    );
    main.append(card);
  });
}

async function start() {
  document.getElementById('page-origin').textContent = HERE;
  document.getElementById('api-origin').textContent = API;
  try {
    report = await api('/cors/report');
    lastSeq = (await api('/cors/requests?since=999999999')).last;
  } catch (error) {
    setSummary(`Cannot reach the API at ${API} (${error.message}). Is it running?`, false);
    renderScenarios();
    return;
  }
  renderScenarios();
  const button = document.getElementById('run-all');
  button.disabled = false;
  button.addEventListener('click', () => runAll());
  setSummary(`${SCENARIOS.length} scenarios. Policies loaded from ${API}/cors/report.`);
  document.body.dataset.ready = 'true';
}

window.playground = { scenarios: SCENARIOS, run, runAll, ready: start() };
