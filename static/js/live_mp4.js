// A camera's own H.264, live, in a <video> through Media Source Extensions: the init segment and
// then fragments, appended as they come, kept near the live edge. Used by the camera page (from
// live.mp4 over HTTP) and the dashboard's tiles (from the page's websocket).
"use strict";

(function () {
  const BEHIND = 1.5; // seconds behind the newest frame before jumping to it
  const NEAR = 0.3; // seconds behind it that a player may be; further, it plays a little faster
  const CATCH_UP = 1.1; // the rate it plays at until it is near again
  const KEEP = 10; // seconds of video kept behind the playhead

  function supported(mime) {
    return Boolean(mime) && "MediaSource" in window && MediaSource.isTypeSupported(mime);
  }

  class Player {
    constructor(video, mime) {
      this.video = video;
      this.queue = [];
      this.source = new MediaSource();
      this.buffer = null;
      this.onAppended = null; // called once each piece is in
      this.source.addEventListener("sourceopen", () => {
        this.buffer = this.source.addSourceBuffer(mime);
        this.buffer.mode = "segments";
        this.buffer.addEventListener("updateend", () => this.appended());
        this.next();
      });
      video.src = URL.createObjectURL(this.source);
      video.muted = true; // browsers play muted video without a click
    }

    push(bytes) {
      this.queue.push(bytes);
      this.next();
    }

    next() {
      if (!this.buffer || this.buffer.updating || !this.queue.length) return;
      try {
        this.buffer.appendBuffer(this.queue.shift());
      } catch (err) {
        // A full buffer (QuotaExceeded): drop what is played and go on from the next piece.
        this.trim(0);
      }
    }

    appended() {
      this.follow();
      if (this.onAppended) this.onAppended();
      this.next();
    }

    // Near the live edge: after a stall or a skip to a newer keyframe, jump to the newest video.
    follow() {
      const ranges = this.video.buffered;
      if (!ranges.length) return;
      const end = ranges.end(ranges.length - 1);
      if (end - this.video.currentTime > BEHIND || this.video.currentTime < ranges.start(0)) {
        this.video.currentTime = Math.max(ranges.start(ranges.length - 1), end - 0.2);
      }
      // A player starts wherever its first frames put it, and would stay that far behind.
      this.video.playbackRate = end - this.video.currentTime > NEAR ? CATCH_UP : 1;
      if (this.video.paused) this.video.play().catch(() => {});
      if (this.video.currentTime - ranges.start(0) > 2 * KEEP) this.trim(KEEP);
    }

    trim(keep) {
      if (!this.buffer || this.buffer.updating) return;
      const until = this.video.currentTime - keep;
      if (until > 0) this.buffer.remove(0, until);
    }
  }

  // live.mp4 read as it streams, each chunk appended as it arrives.
  async function play(video, url, mime) {
    const player = new Player(video, mime);
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok || !response.body) throw new Error("live.mp4 answered " + response.status);
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      player.push(value);
    }
  }

  window.LiveMp4 = { supported: supported, Player: Player, play: play };
})();
