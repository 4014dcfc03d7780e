// Live updates for the dashboard: live tiles, motion toasts, camera status.
// The page works without this file; it only adds what the websocket brings.
"use strict";

(function () {
  const root = document.querySelector("[data-alerts-url]");
  if (!root) return;

  const TOAST_MS = 15000;
  const MAX_TOASTS = 5;
  const LABELS = { online: "live", offline: "offline", error: "error", starting: "starting" };

  const toastBox = document.getElementById("toasts");
  const alertCount = document.getElementById("alert-count");
  const socketState = document.getElementById("socket-state");
  const seen = new Set(); // event ids already toasted, so a repeat never makes a second toast
  const toasts = new Map(); // event id -> toast element still on screen
  const ongoing = new Map(); // event id -> camera slug, while motion lasts

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

  // --- alerts counter ---

  function bumpAlerts() {
    alertCount.textContent = String(Number(alertCount.textContent) + 1);
  }

  document.getElementById("alert-reset").addEventListener("click", () => {
    alertCount.textContent = "0";
  });

  // --- toasts ---

  function removeToast(toast) {
    clearTimeout(toast.timer);
    toasts.delete(toast.dataset.eventId);
    toast.remove();
  }

  function showToast(event) {
    const id = String(event.id);
    if (seen.has(id)) return;
    seen.add(id);
    if (seen.size > 1000) seen.delete(seen.values().next().value);

    const toast = el("div", "toast");
    toast.dataset.eventId = id;
    if (event.snapshot_url) {
      const thumb = el("img", "toast-thumb");
      thumb.alt = "";
      thumb.addEventListener("error", () => thumb.remove());
      thumb.src = event.snapshot_url;
      toast.append(thumb);
    }
    const body = el("div", "toast-body");
    body.append(
      el("strong", "toast-camera", event.camera_name || event.camera),
      el("span", "toast-text", "Motion at " + new Date(event.started_at).toLocaleTimeString()),
      el("span", "toast-duration")
    );
    toast.append(body);
    toast.addEventListener("click", () => removeToast(toast));
    toast.timer = setTimeout(() => removeToast(toast), TOAST_MS);

    while (toastBox.children.length >= MAX_TOASTS) removeToast(toastBox.firstElementChild);
    toastBox.append(toast);
    toasts.set(id, toast);
    bumpAlerts();
  }

  function endToast(event) {
    const toast = toasts.get(String(event.id));
    if (!toast || !event.ended_at) return;
    const ms = new Date(event.ended_at) - new Date(event.started_at);
    toast.querySelector(".toast-duration").textContent = "lasted " + formatDuration(ms);
    toast.classList.add("toast-ended");
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
    if (type === "motion.start") {
      ongoing.set(String(event.id), event.camera);
      showToast(event);
    } else {
      ongoing.delete(String(event.id));
      endToast(event);
    }
    markMotion(event.camera);
  }

  function onStatus(msg) {
    const tile = tileFor(msg.camera);
    if (!tile) return;
    const status = LABELS[msg.status] ? msg.status : "offline";
    const badge = tile.querySelector("[data-status]");
    let text = LABELS[status];
    if (status === "online" && typeof msg.fps === "number") text += " · " + msg.fps.toFixed(1) + " fps";
    badge.className = "badge badge-" + status;
    badge.textContent = text;
    badge.title = msg.since ? "since " + new Date(msg.since).toLocaleString() : "";
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
      liveDelay = Math.min(liveDelay * 2, 30000);
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
    });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", () => {
      setState("down", "reconnecting…");
      // Ends missed while disconnected would leave tiles marked forever.
      const slugs = new Set(ongoing.values());
      ongoing.clear();
      slugs.forEach(markMotion);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  root.querySelector(".live-status").hidden = false;
  connect();
  if (liveImages.size) connectLive();
})();
