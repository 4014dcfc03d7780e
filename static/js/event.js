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
  // request. Ask again while nothing is there yet, and when the end of what there was is reached.
  if (box.hasAttribute("data-ongoing")) {
    let tries = 0;
    const reload = () => {
      if (tries++ > 60) return;
      const at = video.currentTime;
      video.src = box.dataset.clip + "?t=" + Date.now();
      video.addEventListener("loadedmetadata", () => { video.currentTime = at; }, { once: true });
    };
    video.addEventListener("error", () => setTimeout(reload, 2000));
    video.addEventListener("ended", () => setTimeout(reload, 1000));
  }
})();
