// A camera's timeline of recorded video: a click plays from that moment. Without this file the
// timeline is a picture and the download form still works.
"use strict";

(function () {
  const box = document.querySelector("[data-timeline]");
  if (!box) return;
  const day = box.querySelector(".timeline-day");
  const player = box.querySelector(".timeline-player");
  const dayStart = new Date(box.dataset.dayStart);
  const PLAY_SECONDS = 600; // what one click fetches: ten minutes from the moment clicked

  day.addEventListener("click", (click) => {
    const bounds = day.getBoundingClientRect();
    const seconds = Math.floor((86400 * (click.clientX - bounds.left)) / bounds.width);
    const start = new Date(dayStart.getTime() + seconds * 1000);
    const end = new Date(start.getTime() + PLAY_SECONDS * 1000);
    const query = new URLSearchParams({ start: start.toISOString(), end: end.toISOString() });
    player.hidden = false;
    player.src = box.dataset.clipUrl + "?" + query.toString();
    player.play().catch(() => {}); // autoplay may be refused: the controls are there
  });
})();
