// The service worker. The server prepends VERSION, CACHE, PRECACHE (content-hashed URLs), SHELLS
// (screen paths) and the import of the sync client, so a change to any file gives a new VERSION.
// Shells and static files come from the cache first: the app opens offline in well under a second.
// /api/ is never cached or even looked at: it goes straight to the network.

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
      if (key.startsWith("peerlog-") && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

async function precache() {
  const cache = await caches.open(CACHE);
  await cache.addAll([...PRECACHE, ...SHELLS].map((u) => new Request(u, { cache: "reload" })));
}

// Shells are rendered in the user's language; after a switch they are fetched again.
async function refreshShells() {
  const cache = await caches.open(CACHE);
  await Promise.all(SHELLS.map(async (u) => {
    const res = await fetch(u, { cache: "reload" });
    if (res.ok) await cache.put(u, res);
  }));
}

self.addEventListener("message", (event) => {
  const type = event.data?.type;
  if (type === "skip-waiting") self.skipWaiting();
  if (type === "ensure-cache") {
    event.waitUntil(caches.has(CACHE).then((has) => (has ? null : precache())).catch(() => null));
  }
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return;
  if (url.pathname.startsWith("/lang/")) {
    event.respondWith((async () => {
      try {
        const res = await fetch(event.request);
        await refreshShells().catch(() => null);
        return res;
      } catch {
        // Offline: the switch needs the server (the shells are rendered there); stay put.
        const next = url.searchParams.get("next") || "/";
        return Response.redirect(next.startsWith("/") && !next.startsWith("//") ? next : "/", 303);
      }
    })());
    return;
  }
  if (event.request.mode === "navigate") {
    if (!SHELLS.includes(url.pathname)) return; // sign-in, account, admin: always the network
    event.respondWith((async () => {
      const cached = await caches.match(url.pathname, { cacheName: CACHE });
      if (cached) return cached;
      const res = await fetch(event.request);
      if (res.ok) (await caches.open(CACHE)).put(url.pathname, res.clone());
      return res;
    })());
    return;
  }
  event.respondWith((async () => {
    const cached = await caches.match(event.request, { cacheName: CACHE });
    if (cached) return cached;
    const res = await fetch(event.request);
    if (res.ok && (url.pathname.startsWith("/static/") || url.pathname.startsWith("/i18n/"))) {
      (await caches.open(CACHE)).put(event.request, res.clone());
    }
    return res;
  })());
});

// Background Sync: the browser wakes the worker when the network is back, even with the app closed.
self.addEventListener("sync", (event) => {
  if (event.tag !== "peerlog-sync") return;
  event.waitUntil(syncNow().catch(async (err) => {
    if (err?.kind === "revoked") {
      for (const c of await self.clients.matchAll()) c.postMessage({ type: "revoked" });
    }
    // Rethrowing makes the browser retry later with its own backoff.
    if (err?.kind === "retry") throw err;
  }));
});
