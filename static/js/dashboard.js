// Live updates for the dashboard: live tiles, motion toasts, camera status.
// The page works without this file; it only adds what the websocket brings.
"use strict";

(function () {
  const root = document.querySelector("[data-alerts-url]");
  if (!root) return;

  const TOAST_MS = 15000;
  const MAX_TOASTS = 5;
  const MAX_DELAY = 10000; // reconnect backoff cap: a restarted server is back within seconds
  const STATUSES = ["online", "offline", "error", "starting"];

  const toastBox = document.getElementById("toasts");
  const alertCount = document.getElementById("alert-count");
  const socketState = document.getElementById("socket-state");
  const recentList = document.getElementById("recent-events");
  const onlyCamera = root.dataset.onlyCamera || null; // a camera's own page
  const seen = new Set(); // event ids already shown, so a repeat (or catch-up) never shows twice
  const listed = new Set(); // event ids in the recent strip (a quiet event is listed, not shown)
  const toasts = new Map(); // event id -> toast element still on screen
  const ongoing = new Map(); // event id -> camera slug, while motion lasts
  // The newest server time heard of: on every (re)connect the server sends what came after.
  let since = root.dataset.now;
  // Events the page was rendered with, or that a catch-up repeats: not new, so no alert.
  (root.dataset.knownEvents || "").split(",").filter(Boolean).forEach((id) => seen.add(id));
  // ... and quiet ones it lists, which alert only if an object is found in them.
  (root.dataset.quietEvents || "").split(",").filter(Boolean).forEach((id) => listed.add(id));

  // A session that ended (a logout in another tab, an expired session, a disabled account)
  // gets every socket and request refused, and reconnecting would be refused for ever. The page
  // itself then answers with a redirect to the login: load it again to go there (and back).
  async function sessionEnded() {
    try {
      const response = await fetch(location.pathname + location.search, {
        credentials: "same-origin",
        redirect: "manual",
      });
      return response.type === "opaqueredirect" || response.status === 401 || response.status === 403;
    } catch (err) {
      return false; // the server is away: keep reconnecting
    }
  }

  let leaving = false; // both sockets close at once: one reload, not two
  async function toLoginIfSessionEnded() {
    if (leaving || !(await sessionEnded()) || leaving) return;
    leaving = true;
    location.reload();
  }

  function tileFor(slug) {
    return Array.from(document.querySelectorAll("[data-camera]")).find(
      (tile) => tile.dataset.camera === slug
    );
  }

  // A copy of one of the page's <template>s: the markup is the server's, only filled in here.
  function fromTemplate(id) {
    return document.getElementById(id).content.firstElementChild.cloneNode(true);
  }

  function heard(time) {
    if (time && (!since || new Date(time) > new Date(since))) since = time;
  }

  // --- unseen alerts: a counter, also in the tab's title ---

  const baseTitle = document.title;
  let unseen = 0;

  function setUnseen(count) {
    unseen = count;
    alertCount.textContent = String(count);
    alertCount.dataset.count = String(count);
    document.title = count ? "(" + count + ") " + baseTitle : baseTitle;
  }

  document.getElementById("alert-reset").addEventListener("click", () => setUnseen(0));

  // --- sound and browser notifications: both opt-in, remembered by this browser ---

  const soundButton = document.getElementById("sound-toggle");
  const notifyButton = document.getElementById("notify-toggle");
  let audio = null;

  function stored(key) {
    try {
      return localStorage.getItem("surveillance." + key) === "on";
    } catch (err) {
      return false;
    }
  }

  function store(key, on) {
    try {
      localStorage.setItem("surveillance." + key, on ? "on" : "off");
    } catch (err) {
      /* private mode: it lasts for this page only */
    }
  }

  function showToggle(button, label, on) {
    button.setAttribute("aria-pressed", String(on));
    button.textContent = label + (on ? " on" : " off");
  }

  let soundOn = stored("sound");
  showToggle(soundButton, "Sound", soundOn);
  soundButton.addEventListener("click", () => {
    soundOn = !soundOn;
    store("sound", soundOn);
    showToggle(soundButton, "Sound", soundOn);
    if (soundOn) beep(); // also unlocks audio, which browsers allow only after a click
  });

  function beep() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    audio = audio || new Context();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  }

  // "Notify": Web Push to this browser, shown by the service worker (/sw.js) even with no tab
  // open. Browsers allow it only in a secure context (HTTPS, or localhost); elsewhere the
  // button says so. Without Push support, in-page notifications while the tab is hidden.
  const notifyNote = document.getElementById("notify-note");
  const HTTPS_NOTE =
    "Notifications need HTTPS (or localhost): see “HTTPS for notifications” in the README.";
  const pushSupported = "serviceWorker" in navigator && "PushManager" in window;
  let notifyOn = false;
  let pushOn = false; // this browser is subscribed: the service worker shows motion

  function say(text) {
    notifyNote.textContent = text || "";
    notifyNote.hidden = !text;
  }

  function csrfToken() {
    const field = document.querySelector("[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    });
  }

  function keyBytes(base64url) {
    const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  }

  async function subscribePush() {
    if ((await Notification.requestPermission()) !== "granted") {
      say("Notifications are blocked for this site in the browser's settings.");
      return false;
    }
    const registration = await navigator.serviceWorker.ready;
    const key = (await (await fetch("/notifications/push/key")).json()).key;
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(key),
    });
    const answer = await postJSON("/notifications/push/subscribe", subscription.toJSON());
    if (!answer.ok) {
      const reason = (await answer.json().catch(() => ({}))).error;
      say("The server refused this browser: " + (typeof reason === "string" ? reason : answer.status));
      return false;
    }
    return true;
  }

  async function unsubscribePush() {
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.getSubscription();
    if (subscription) {
      await postJSON("/notifications/push/unsubscribe", { endpoint: subscription.endpoint });
      await subscription.unsubscribe();
    }
    return false;
  }

  async function startPush() {
    const registration = await navigator.serviceWorker.register("/sw.js");
    const subscription = await registration.pushManager.getSubscription();
    pushOn = notifyOn = Boolean(subscription) && Notification.permission === "granted";
    showToggle(notifyButton, "Notify", notifyOn);
    notifyButton.addEventListener("click", async () => {
      say("");
      try {
        pushOn = notifyOn = notifyOn ? await unsubscribePush() : await subscribePush();
      } catch (err) {
        say("Could not turn notifications on: " + err.message);
      }
      showToggle(notifyButton, "Notify", notifyOn);
    });
  }

  if (!window.isSecureContext) {
    notifyButton.hidden = false;
    notifyButton.disabled = true;
    notifyButton.textContent = "Notify needs HTTPS";
    say(HTTPS_NOTE);
  } else if (pushSupported) {
    notifyButton.hidden = false;
    startPush().catch((err) => say("Notifications are not available here: " + err.message));
  } else if ("Notification" in window) {
    notifyOn = Notification.permission === "granted" && stored("notify");
    notifyButton.hidden = false;
    showToggle(notifyButton, "Notify", notifyOn);
    notifyButton.addEventListener("click", async () => {
      if (!notifyOn && Notification.permission !== "granted") {
        if ((await Notification.requestPermission()) !== "granted") return;
      }
      notifyOn = !notifyOn;
      store("notify", notifyOn);
      showToggle(notifyButton, "Notify", notifyOn);
    });
  }

  function notify(event) {
    if (pushOn || !notifyOn || !document.hidden || Notification.permission !== "granted") return;
    const note = new Notification(whatMoved(event) + ": " + (event.camera_name || event.camera), {
      body: new Date(event.started_at).toLocaleTimeString(),
      icon: event.snapshot_url || undefined,
      tag: "event-" + event.id,
    });
    note.addEventListener("click", () => {
      window.focus();
      if (event.url) location.href = event.url;
    });
  }

  // --- toasts ---

  function removeToast(toast) {
    clearTimeout(toast.timer);
    toasts.delete(toast.dataset.eventId);
    toast.remove();
  }

  function showToast(event) {
    const toast = fromTemplate("toast-template");
    toast.dataset.eventId = String(event.id);
    toast.querySelector(".toast-link").href = event.url || "#";
    const thumb = toast.querySelector(".toast-thumb");
    if (event.snapshot_url) {
      thumb.addEventListener("error", () => thumb.remove());
      thumb.src = event.snapshot_url;
    } else {
      thumb.remove();
    }
    toast.querySelector(".toast-camera").textContent = event.camera_name || event.camera;
    toast.querySelector(".toast-what").textContent = whatMoved(event);
    const time = toast.querySelector(".toast-text time");
    time.dateTime = event.started_at;
    time.textContent = new Date(event.started_at).toLocaleTimeString();
    toast.querySelector(".toast-close").addEventListener("click", () => removeToast(toast));
    toast.timer = setTimeout(() => removeToast(toast), TOAST_MS);

    while (toastBox.children.length >= MAX_TOASTS) removeToast(toastBox.firstElementChild);
    toastBox.append(toast);
    toasts.set(toast.dataset.eventId, toast);
  }

  // "Person" when the object detector found one, else "Motion".
  function whatMoved(event) {
    const labels = Object.keys(event.objects || {});
    if (!labels.length) return "Motion";
    const words = labels.join(", ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function endToast(event) {
    const toast = toasts.get(String(event.id));
    if (!toast || !event.ended_at) return;
    toast.querySelector(".toast-duration").textContent = "lasted " + event.duration_label;
    toast.classList.add("toast-ended");
  }

  // --- the recent-events strip and the activity charts ---

  function addRecent(event) {
    if (!recentList || (onlyCamera && event.camera !== onlyCamera)) return;
    const item = fromTemplate("recent-event-template");
    item.dataset.eventId = String(event.id);
    item.querySelector("a").href = event.url || "#";
    const thumb = item.querySelector("img");
    if (event.snapshot_url) {
      thumb.src = event.snapshot_url;
      item.querySelector(".no-thumb").remove();
    } else {
      thumb.remove();
    }
    item.querySelector(".recent-camera").textContent = event.camera_name || event.camera;
    const time = item.querySelector("time");
    time.dateTime = event.started_at;
    time.textContent = new Date(event.started_at).toLocaleTimeString();
    recentList.prepend(item);
    const limit = Number(recentList.dataset.limit) || 12;
    while (recentList.children.length > limit) recentList.lastElementChild.remove();
    const empty = document.querySelector(".recent-empty");
    if (empty) empty.hidden = true;
  }

  function bumpActivity(slug) {
    const chart = Array.from(document.querySelectorAll("[data-activity]")).find(
      (node) => node.dataset.activity === slug
    );
    const bars = chart ? Array.from(chart.querySelectorAll(".bar")) : [];
    if (!bars.length) return;
    const last = bars[bars.length - 1];
    last.dataset.count = String(Number(last.dataset.count) + 1);
    const busiest = Math.max(1, ...bars.map((bar) => Number(bar.dataset.count)));
    bars.forEach((bar) => {
      const height = (100 * Number(bar.dataset.count)) / busiest;
      bar.setAttribute("height", String(height));
      bar.setAttribute("y", String(100 - height));
    });
  }

  // --- tiles ---

  function markMotion(slug) {
    const tile = tileFor(slug);
    if (!tile) return;
    const moving = Array.from(ongoing.values()).includes(slug);
    tile.classList.toggle("motion", moving);
  }

  function onMotion(type, event) {
    if (!event || event.id === undefined) return;
    const id = String(event.id);
    heard(event.ended_at || event.started_at);
    if (type === "motion.start" || type === "motion.update") {
      if (!event.ended_at) ongoing.set(id, event.camera);
      if (!seen.has(id) && !listed.has(id)) {
        listed.add(id);
        addRecent(event);
        bumpActivity(event.camera);
      }
      // A quiet event (its camera alerts only on objects, none found yet) raises nothing; the
      // motion.update that finds one raises it then.
      if (!seen.has(id) && event.alert !== false) {
        seen.add(id);
        showToast(event);
        setUnseen(unseen + 1);
        if (soundOn) beep();
        notify(event);
        endToast(event);
      }
    } else {
      ongoing.delete(id);
      endToast(event);
    }
    markMotion(event.camera);
  }

  // The words come from the server (Camera.health()), as the page was rendered with them.
  function onStatus(msg) {
    const tile = tileFor(msg.camera);
    if (!tile) return;
    const badge = tile.querySelector("[data-status]");
    badge.className = "badge badge-" + (STATUSES.includes(msg.status) ? msg.status : "offline");
    badge.textContent = msg.status_label;
    badge.title = msg.since_label || "";
    const detail = tile.querySelector("[data-detail]");
    if (detail) detail.textContent = msg.detail || "";
    const health = tile.querySelector("[data-health]");
    if (health) health.textContent = msg.health_label || "";
  }

  // --- live images: every tile over one websocket (cameras/live.py, LiveGrid) ---
  // Only tiles on screen are watched, none while the tab is hidden. After showing a frame the
  // page says so, and only then gets that camera's next (newest) frame.

  const LIVE_FPS = 10;
  const liveImages = new Map(); // camera slug -> its tile's <img>
  document.querySelectorAll("[data-camera] img[data-live]").forEach((img) => {
    liveImages.set(img.closest("[data-camera]").dataset.camera, img);
  });
  const onScreen = new Set();
  let liveSocket = null;
  let liveDelay = 1000;
  // Tiles of cameras that send H.264 play it (MSE) where this browser can: slug -> <video>.
  const liveVideos = new Map();
  document.querySelectorAll("[data-camera] video[data-live-video]").forEach((video) => {
    if (window.LiveMp4 && LiveMp4.supported(video.dataset.mime)) {
      liveVideos.set(video.closest("[data-camera]").dataset.camera, video);
    }
  });
  const players = new Map(); // slug -> LiveMp4.Player, once its init segment came

  function liveWidth() {
    const tiles = Array.from(liveImages.values(), (img) => img.closest("[data-camera]"));
    const widest = Math.max(0, ...tiles.map((tile) => tile.clientWidth));
    return Math.min(1920, Math.max(160, Math.round(widest * (window.devicePixelRatio || 1))));
  }

  function sendWatch() {
    if (!liveSocket || liveSocket.readyState !== WebSocket.OPEN) return;
    const watch = document.hidden ? [] : Array.from(onScreen);
    const mp4 = watch.filter((slug) => liveVideos.has(slug));
    liveSocket.send(JSON.stringify({ watch: watch, mp4: mp4, width: liveWidth(), fps: LIVE_FPS }));
  }

  // Frames shown are reported together, at most every ACK_MS: however many tiles a page has,
  // it sends a few messages a second (the server closes a socket that sends many more).
  const ACK_MS = 20;
  let acks = null;

  function acknowledge(socket, slug) {
    if (acks === null) {
      acks = new Set();
      setTimeout(() => {
        if (socket.readyState === WebSocket.OPEN) {
          socket.send(JSON.stringify({ shown: Array.from(acks) }));
        }
        acks = null;
      }, ACK_MS);
    }
    acks.add(slug);
  }

  function showFrame(socket, data) {
    if (typeof data === "string") return;
    const bytes = new Uint8Array(data);
    const newline = bytes.indexOf(10);
    let head;
    try {
      head = JSON.parse(new TextDecoder().decode(bytes.subarray(0, newline)));
    } catch (err) {
      return;
    }
    const shownTo = () => acknowledge(socket, head.camera);
    if (head.init || head.mp4) {
      showFragment(head, bytes.subarray(newline + 1), shownTo);
      return;
    }
    const img = liveImages.get(head.camera);
    if (!img) return;
    const url = URL.createObjectURL(new Blob([bytes.subarray(newline + 1)], { type: "image/jpeg" }));
    const previous = img.dataset.frameUrl;
    const shown = () => {
      if (previous) URL.revokeObjectURL(previous);
      img.dataset.capturedAt = String(head.t);
      acknowledge(socket, head.camera);
    };
    img.onload = shown;
    img.onerror = shown;
    img.dataset.frameUrl = url;
    img.src = url;
  }

  // The camera's H.264 in the tile's <video>: the init segment makes the player (anew when the
  // camera came back with other parameters); each fragment is acknowledged once it is in.
  function showFragment(head, data, shownTo) {
    const video = liveVideos.get(head.camera);
    if (!video) return;
    let player = players.get(head.camera);
    if (head.init && (!player || player.mime !== head.mime)) {
      player = new LiveMp4.Player(video, head.mime);
      player.mime = head.mime;
      players.set(head.camera, player);
      video.hidden = false;
      liveImages.get(head.camera).hidden = true;
    }
    if (!player) return shownTo();
    player.onAppended = shownTo;
    player.push(data.slice());
    video.dataset.capturedAt = String(head.t || "");
  }

  function connectLive() {
    const socket = new WebSocket(wsBase + root.dataset.liveUrl);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", () => {
      liveDelay = 1000;
      sendWatch();
    });
    socket.addEventListener("message", (msg) => showFrame(socket, msg.data));
    socket.addEventListener("close", () => {
      toLoginIfSessionEnded();
      players.clear(); // the next connection starts each tile at a keyframe, with its init
      setTimeout(connectLive, liveDelay);
      liveDelay = Math.min(liveDelay * 2, MAX_DELAY);
    });
    liveSocket = socket;
  }

  if (liveImages.size) {
    const observer = new IntersectionObserver((entries) => {
      entries.forEach((entry) => {
        const slug = entry.target.closest("[data-camera]").dataset.camera;
        if (entry.isIntersecting) onScreen.add(slug);
        else onScreen.delete(slug);
      });
      sendWatch();
    });
    // The tiles, not their pictures: a tile playing MP4 hides its <img>.
    liveImages.forEach((img) => observer.observe(img.closest("[data-camera]")));
    document.addEventListener("visibilitychange", sendWatch);
    let resized = null;
    window.addEventListener("resize", () => {
      clearTimeout(resized);
      resized = setTimeout(sendWatch, 500);
    });
  }

  // --- websocket ---

  const wsBase = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
  let delay = 1000;

  function setState(state, text) {
    socketState.dataset.state = state;
    socketState.textContent = text;
  }

  function onMessage(raw) {
    let msg;
    try {
      msg = JSON.parse(raw.data);
    } catch (err) {
      return;
    }
    if (msg.type.startsWith("motion.")) onMotion(msg.type, msg.event);
    else if (msg.type === "camera.status") onStatus(msg);
  }

  function connect() {
    const socket = new WebSocket(wsBase + root.dataset.alertsUrl);
    socket.addEventListener("open", () => {
      delay = 1000;
      setState("live", "live");
      // What happened while this page was not connected (or still loading) comes first.
      if (since) socket.send(JSON.stringify({ since: since }));
    });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", () => {
      setState("down", "reconnecting…");
      toLoginIfSessionEnded();
      // Ends missed while disconnected would leave tiles marked forever.
      const slugs = new Set(ongoing.values());
      ongoing.clear();
      slugs.forEach(markMotion);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, MAX_DELAY);
    });
  }

  root.querySelector(".live-status").hidden = false;
  connect();
  if (liveImages.size) connectLive();
})();

// The camera page's full-size view: live.mp4 through MSE where camera and browser can, else MJPEG.
(function () {
  const video = document.querySelector("video[data-live-full]");
  const img = document.querySelector("img[data-live-mjpeg]");
  if (!video || !img) return;
  const mjpeg = () => {
    video.hidden = true;
    img.hidden = false;
    if (!img.src) img.src = img.dataset.src;
  };
  if (!window.LiveMp4 || !video.dataset.liveUrl || !LiveMp4.supported(video.dataset.mime)) {
    mjpeg();
    return;
  }
  img.hidden = true;
  video.hidden = false;
  let failures = 0;
  const play = () =>
    LiveMp4.play(video, video.dataset.liveUrl, video.dataset.mime)
      .then(() => setTimeout(play, 1000)) // the stream ended (the worker restarted): again
      .catch(() => (++failures > 3 ? mjpeg() : setTimeout(play, 2000)));
  play();
})();
