// Live updates for the dashboard: live tiles, motion toasts, camera status.
// The page works without this file; it only adds what the websocket brings.
"use strict";

(function () {
  const root = document.querySelector("[data-alerts-url]");
  if (!root) return;

  const TOAST_MS = 15000;
  const MAX_TOASTS = 5;
  const MAX_DELAY = 10000; // reconnect backoff cap: a restarted server is back within seconds
  const LABELS = { online: "live", offline: "offline", error: "error", starting: "starting" };

  const toastBox = document.getElementById("toasts");
  const alertCount = document.getElementById("alert-count");
  const socketState = document.getElementById("socket-state");
  const recentList = document.getElementById("recent-events");
  const onlyCamera = root.dataset.onlyCamera || null; // a camera's own page
  const seen = new Set(); // event ids already shown, so a repeat (or catch-up) never shows twice
  const toasts = new Map(); // event id -> toast element still on screen
  const ongoing = new Map(); // event id -> camera slug, while motion lasts
  // The newest server time heard of: on every (re)connect the server sends what came after.
  let since = root.dataset.now;
  // Events the page was rendered with, or that a catch-up repeats: not new, so no alert.
  (root.dataset.knownEvents || "").split(",").filter(Boolean).forEach((id) => seen.add(id));

  function tileFor(slug) {
    return Array.from(document.querySelectorAll("[data-camera]")).find(
      (tile) => tile.dataset.camera === slug
    );
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function formatDuration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? s + " s" : Math.floor(s / 60) + " min " + (s % 60) + " s";
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

  let notifyOn = "Notification" in window && Notification.permission === "granted" && stored("notify");
  if ("Notification" in window) {
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
    if (!notifyOn || !document.hidden || Notification.permission !== "granted") return;
    const note = new Notification("Motion: " + (event.camera_name || event.camera), {
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
    const toast = el("div", "toast");
    toast.dataset.eventId = String(event.id);
    const link = el("a", "toast-link");
    link.href = event.url || "#";
    if (event.snapshot_url) {
      const thumb = el("img", "toast-thumb");
      thumb.alt = "";
      thumb.addEventListener("error", () => thumb.remove());
      thumb.src = event.snapshot_url;
      link.append(thumb);
    }
    const body = el("span", "toast-body");
    body.append(
      el("strong", "toast-camera", event.camera_name || event.camera),
      el("span", "toast-text", "Motion at " + new Date(event.started_at).toLocaleTimeString()),
      el("span", "toast-duration")
    );
    link.append(body);
    const close = el("button", "toast-close", "×");
    close.type = "button";
    close.title = "Dismiss";
    close.addEventListener("click", () => removeToast(toast));
    toast.append(link, close);
    toast.timer = setTimeout(() => removeToast(toast), TOAST_MS);

    while (toastBox.children.length >= MAX_TOASTS) removeToast(toastBox.firstElementChild);
    toastBox.append(toast);
    toasts.set(toast.dataset.eventId, toast);
  }

  function endToast(event) {
    const toast = toasts.get(String(event.id));
    if (!toast || !event.ended_at) return;
    const ms = new Date(event.ended_at) - new Date(event.started_at);
    toast.querySelector(".toast-duration").textContent = "lasted " + formatDuration(ms);
    toast.classList.add("toast-ended");
  }

  // --- the recent-events strip and the activity charts ---

  function addRecent(event) {
    if (!recentList || (onlyCamera && event.camera !== onlyCamera)) return;
    const item = el("li", "recent-item");
    item.dataset.eventId = String(event.id);
    const link = el("a");
    link.href = event.url || "#";
    if (event.snapshot_url) {
      const thumb = el("img");
      thumb.alt = "";
      thumb.src = event.snapshot_url;
      link.append(thumb);
    } else {
      link.append(el("span", "no-thumb"));
    }
    const time = el("time", null, new Date(event.started_at).toLocaleTimeString());
    time.dateTime = event.started_at;
    link.append(el("span", "recent-camera", event.camera_name || event.camera), time);
    item.append(link);
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
    if (type === "motion.start") {
      if (!event.ended_at) ongoing.set(id, event.camera);
      if (!seen.has(id)) {
        seen.add(id);
        showToast(event);
        addRecent(event);
        bumpActivity(event.camera);
        setUnseen(unseen + 1);
        if (soundOn) beep();
        notify(event);
      }
    } else {
      ongoing.delete(id);
      endToast(event);
    }
    markMotion(event.camera);
  }

  function onStatus(msg) {
    const tile = tileFor(msg.camera);
    if (!tile) return;
    const status = LABELS[msg.status] ? msg.status : "offline";
    const badge = tile.querySelector("[data-status]");
    const changed = msg.since ? new Date(msg.since) : null;
    let text = LABELS[status];
    if (status === "online" && typeof msg.fps === "number") text += " · " + msg.fps.toFixed(1) + " fps";
    if (status !== "online" && changed) {
      text += " since " + changed.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }
    badge.className = "badge badge-" + status;
    badge.textContent = text;
    badge.title = changed ? "since " + changed.toLocaleString() : "";
    const detail = tile.querySelector("[data-detail]");
    if (detail) detail.textContent = msg.detail || "";
    const health = tile.querySelector("[data-health]");
    if (health) health.textContent = healthText(msg);
  }

  function healthText(msg) {
    const parts = [];
    if (msg.last_frame_at) parts.push("last frame " + new Date(msg.last_frame_at).toLocaleTimeString());
    if (msg.dropped_frames > 0) parts.push(msg.dropped_frames + " dropped");
    if (msg.reconnects > 0) parts.push(msg.reconnects + (msg.reconnects === 1 ? " reconnect" : " reconnects"));
    return parts.join(" · ");
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

  function liveWidth() {
    const widest = Math.max(0, ...Array.from(liveImages.values(), (img) => img.clientWidth));
    return Math.min(1920, Math.max(160, Math.round(widest * (window.devicePixelRatio || 1))));
  }

  function sendWatch() {
    if (!liveSocket || liveSocket.readyState !== WebSocket.OPEN) return;
    const watch = document.hidden ? [] : Array.from(onScreen);
    liveSocket.send(JSON.stringify({ watch: watch, width: liveWidth(), fps: LIVE_FPS }));
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
    const img = liveImages.get(head.camera);
    if (!img) return;
    const url = URL.createObjectURL(new Blob([bytes.subarray(newline + 1)], { type: "image/jpeg" }));
    const previous = img.dataset.frameUrl;
    const shown = () => {
      if (previous) URL.revokeObjectURL(previous);
      img.dataset.capturedAt = String(head.t);
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ shown: head.camera }));
    };
    img.onload = shown;
    img.onerror = shown;
    img.dataset.frameUrl = url;
    img.src = url;
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
    liveImages.forEach((img) => observer.observe(img));
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
    if (msg.type === "motion.start" || msg.type === "motion.end") onMotion(msg.type, msg.event);
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
