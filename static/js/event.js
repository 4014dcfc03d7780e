// An event's page: its video. The page works without this file; it adds what a browser needs
// to be told (a codec it cannot play, an event still being recorded).
"use strict";

(function () {
  const box = document.querySelector("[data-clip]");
  if (!box) return;
  const video = box.querySelector("video");
  const TYPES = { h264: 'video/mp4; codecs="avc1.42E01E"', hevc: 'video/mp4; codecs="hvc1.1.6.L93.B0"' };
  const type = TYPES[box.dataset.codec];

  if (type && !video.canPlayType(type)) {
    video.hidden = true;
    box.querySelector(".video-unsupported").hidden = false;
    return;
  }

  // Still being recorded: the server makes what is on disk into a playable file on each
  // request. Ask again while nothing is there yet, and when the end of what there was is reached;
  // a new src stops the player, so it plays on from there if it was playing.
  if (box.hasAttribute("data-ongoing")) {
    let idle = 0; // asked in a row with nothing new: nothing on disk yet, or the event is over
    let playing = false; // the viewer's wish: the pause that comes with an error or the end is not
    video.addEventListener("play", () => { playing = true; });
    video.addEventListener("pause", () => { if (!video.ended && !video.error) playing = false; });
    const reload = () => {
      if (idle++ > 60) return;
      const at = video.currentTime;
      const play = playing;
      video.src = box.dataset.clip + "?t=" + Date.now();
      video.addEventListener("loadedmetadata", () => {
        if (video.duration > at + 0.5) idle = 0; // still growing: follow it as long as it lasts
        video.currentTime = at;
        if (play) video.play().catch(() => {});
      }, { once: true });
    };
    video.addEventListener("error", () => setTimeout(reload, 2000));
    video.addEventListener("ended", () => setTimeout(reload, 1000));
  }
})();
