// Live updates for the dashboard: motion toasts, camera status, stream retry.
// The page works without this file; it only adds what the websocket brings.
"use strict";

(function () {
  const root = document.querySelector("[data-alerts-url]");
  if (!root) return;

  const TOAST_MS = 15000;
  const MAX_TOASTS = 5;
  const RETRY_MS = 2000;
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

  // --- live images ---

  function restartStream(img) {
    const url = new URL(img.dataset.src, location.href);
    url.searchParams.set("r", String(Date.now()));
    img.src = url.pathname + url.search;
  }

  function watchStream(img) {
    img.dataset.src = img.getAttribute("src");
    img.addEventListener("error", () => {
      clearTimeout(img.retry);
      img.retry = setTimeout(() => restartStream(img), RETRY_MS);
    });
    // It may have failed before this deferred script ran.
    if (img.complete && img.naturalWidth === 0) restartStream(img);
  }

  document.querySelectorAll("img.live").forEach(watchStream);

  // --- websocket ---

  const wsUrl = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + root.dataset.alertsUrl;
  let delay = 1000;
  let wasOpen = false;

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
    const socket = new WebSocket(wsUrl);
    socket.addEventListener("open", () => {
      delay = 1000;
      setState("live", "live");
      // Streams cut by a server restart do not always fire "error"; reopen them with the socket.
      if (wasOpen) document.querySelectorAll("img.live").forEach(restartStream);
      wasOpen = true;
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
})();
