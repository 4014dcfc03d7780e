// The service worker (served at /sw.js, scope /): shows a push as a notification, even with no
// tab of the site open, and opens the event when the notification is clicked.
"use strict";

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (err) {
    data = {};
  }
  const motion = data.event || {};
  const title = data.title || "Motion";
  const options = {
    body: motion.started_at ? new Date(motion.started_at).toLocaleTimeString() : "",
    tag: "event-" + (motion.id === undefined ? data.id : motion.id),
    icon: motion.snapshot_url || "/static/img/icon.svg",
    data: { url: data.url || "/" },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data.url || "/", self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((windows) => {
      const open = windows.find((w) => w.url === url);
      return open ? open.focus() : self.clients.openWindow(url);
    })
  );
});

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
