// The dashboard's service worker: makes it an installable web app and shows the
// alarms' system notifications (notify.js); a tap on one opens the alarms. It caches
// nothing: every state on the page is live, a stale copy would be worse than none.
self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data?.url ?? "/ui/index.html#/alarms";
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const page = open.find((c) => new URL(c.url).pathname === "/ui/index.html");
    if (page) {
      await page.focus();
      return page.navigate(url);
    }
    return self.clients.openWindow(url);
  })());
});
