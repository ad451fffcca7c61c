// The service worker. The server prepends VERSION, CACHE, PRECACHE (content-hashed URLs), SHELLS
// (screen paths), LANGUAGES and the imports of the sync client and its tag (SYNC), so a change to any file gives a new
// VERSION. Shells and static files come from the cache first: the app opens offline in well under
// a second. /api/ is never cached or even looked at: it goes straight to the network.
//
// Shells are rendered in a language, so every shell is cached in every language and the worker
// serves the one of the chosen language: switching language works offline too. The choice is the
// `lang` cookie's, which a worker cannot read: the worker keeps its own copy (LANG_KEY), set when
// a /lang/ link is followed and by the page when the two disagree (app.js).
const LANG_KEY = "/__peerlog/lang";
const SETTINGS = "peerlog-settings"; // a cache of its own: it outlives the versioned ones
const OFFLINE = "/offline"; // "this page needs a connection", cached in every language

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    await precache();
    // The very first install has no old version to respect; later ones wait for the user.
    if (!self.registration.active) await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("peerlog-") && key !== CACHE && key !== SETTINGS) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

const shellKey = (path, lang) => `${path}?lang=${lang}`;

// A response fetched on a cache miss goes into the cache only if the cache is there: install
// makes it, and a sign-out or a revoked device deletes it on purpose, while this worker may
// still serve the sign-in page's files for a moment.
async function topUp(request, response) {
  if (!retired && (await caches.has(CACHE))) await (await caches.open(CACHE)).put(request, response);
}

// Set by a page that signs out or is revoked: this worker is on its way out, and no cache may
// be made again behind the wipe (an install, a precache or a top-up still running).
let retired = false;

async function precache() {
  if (retired) return;
  const cache = await caches.open(CACHE);
  const shells = [...SHELLS, OFFLINE].flatMap((path) => LANGUAGES.map((lang) => shellKey(path, lang)));
  await cache.addAll([...PRECACHE, ...shells].map((u) => new Request(u, { cache: "reload" })));
  if (retired) await caches.delete(CACHE);
}

// The chosen language: the worker's copy of the cookie, else the browser's languages, as the
// server reads Accept-Language (zh… → zh-CN, en… → en, else zh-CN).
let chosen = null; // read once per worker start: every navigation asks

async function chosenLanguage() {
  if (chosen) return chosen;
  const kept = await caches.match(LANG_KEY, { cacheName: SETTINGS });
  const lang = kept ? await kept.text() : null;
  if (LANGUAGES.includes(lang)) return (chosen = lang);
  for (const tag of self.navigator.languages || []) {
    const low = tag.toLowerCase();
    if (low.startsWith("zh")) return "zh-CN";
    if (low.startsWith("en")) return "en";
  }
  return "zh-CN";
}

async function keepLanguage(lang) {
  if (retired || !LANGUAGES.includes(lang)) return;
  chosen = lang;
  await (await caches.open(SETTINGS)).put(LANG_KEY, new Response(lang));
}

self.addEventListener("message", (event) => {
  const type = event.data?.type;
  if (type === "skip-waiting") self.skipWaiting();
  if (type === "retire") retired = true;
  if (type === "ensure-cache") {
    event.waitUntil(caches.has(CACHE).then((has) => (has ? null : precache())).catch(() => null));
  }
  if (type === "lang") {
    event.waitUntil(keepLanguage(event.data.lang).then(() => event.source?.postMessage({ type: "lang-kept" })));
  }
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return;
  if (url.pathname.startsWith("/lang/")) {
    event.respondWith((async () => {
      await keepLanguage(url.pathname.slice("/lang/".length)).catch(() => null);
      try {
        return await fetch(event.request); // sets the cookie
      } catch {
        // Offline: settings.js has set the cookie already; the shells are all here.
        const next = url.searchParams.get("next") || "/";
        return Response.redirect(next.startsWith("/") && !next.startsWith("//") ? next : "/", 303);
      }
    })());
    return;
  }
  if (event.request.mode === "navigate") {
    if (!SHELLS.includes(url.pathname)) {
      // Sign-in, account, admin: always the network, and offline a page that says so with a way
      // back to Today (in a home-screen app the browser's error page is a dead end).
      event.respondWith(fetch(event.request).catch(needsConnection));
      return;
    }
    event.respondWith((async () => {
      const key = shellKey(url.pathname, await chosenLanguage());
      const cached = await caches.match(key, { cacheName: CACHE });
      if (cached) return cached;
      const res = await fetch(key).catch(() => null);
      if (!res) return needsConnection();
      if (res.ok) await topUp(key, res.clone());
      return res;
    })());
    return;
  }
  event.respondWith((async () => {
    const cached = await caches.match(event.request, { cacheName: CACHE });
    if (cached) return cached;
    const res = await fetch(event.request);
    if (res.ok && (url.pathname.startsWith("/static/") || url.pathname.startsWith("/i18n/"))) {
      await topUp(event.request, res.clone());
    }
    return res;
  })());
});

async function needsConnection() {
  const page = await caches.match(shellKey(OFFLINE, await chosenLanguage()), { cacheName: CACHE });
  if (!page) return Response.error();
  return new Response(page.body, { status: 503, statusText: "Offline", headers: page.headers });
}

// Background Sync: the browser wakes the worker when the network is back, even with the app closed.
self.addEventListener("sync", (event) => {
  if (event.tag !== SYNC) return; // the tag app.js registers: one name, owned by outbox.js
  event.waitUntil(syncNow().catch(async (err) => {
    if (err?.kind === "revoked") {
      for (const c of await self.clients.matchAll()) c.postMessage({ type: "revoked" });
    }
    // Rethrowing makes the browser retry later with its own backoff.
    if (err?.kind === "retry") throw err;
  }));
});
