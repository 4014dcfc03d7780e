// Mask polygon editor for the camera admin: click points on the camera's picture.
// The JSON text field stays the truth and stays editable; this only writes into it.
"use strict";

(function () {
  const PLACEHOLDER_RATIO = "16 / 9"; // most cameras; used until (or unless) the picture loads
  const MIN_POINTS = 3; // what validate_mask accepts as a polygon
  const NOT_JSON = "The text below is not a JSON list yet; the picture shows the last one that was.";

  function round(value) {
    return Math.round(Math.min(1, Math.max(0, value)) * 10000) / 10000;
  }

  function parseMask(text) {
    if (!text.trim()) return [];
    try {
      const value = JSON.parse(text);
      return Array.isArray(value) ? value : null;
    } catch (error) {
      return null;
    }
  }

  function drawable(polygon) {
    return Array.isArray(polygon) && polygon.every((p) => Array.isArray(p) && p.length === 2);
  }

  class MaskEditor {
    constructor(root, field) {
      this.field = field;
      this.stage = root.querySelector(".mask-editor-stage");
      this.image = root.querySelector(".mask-editor-image");
      this.canvas = root.querySelector(".mask-editor-canvas");
      this.note = root.querySelector(".mask-editor-note");
      this.buttons = {};
      root.querySelectorAll("[data-action]").forEach((b) => (this.buttons[b.dataset.action] = b));
      this.polygons = parseMask(field.value) || [];
      this.current = []; // points of the polygon being placed, not yet in the field
      this.pictureNote = "";
      this.listen();
      this.showPicture(root.dataset.snapshotUrl);
      this.say(parseMask(field.value) === null ? NOT_JSON : this.pictureNote);
      root.querySelector(".mask-editor-tools").hidden = false;
      new ResizeObserver(() => this.draw()).observe(this.stage);
    }

    listen() {
      this.canvas.addEventListener("click", (event) => this.place(event));
      this.buttons.close.addEventListener("click", () => this.closePolygon());
      this.buttons.undo.addEventListener("click", () => this.undo());
      this.buttons.clear.addEventListener("click", () => this.clear());
      this.field.addEventListener("input", () => this.readField());
      // Points placed but not closed are what the user meant to save.
      if (this.field.form) this.field.form.addEventListener("submit", () => this.closePolygon());
    }

    showPicture(url) {
      this.stage.style.aspectRatio = PLACEHOLDER_RATIO;
      if (!url) {
        this.pictureNote = "Save the camera to see its picture: drawing on a 16:9 placeholder.";
        return;
      }
      this.pictureNote = "Loading the camera's picture…";
      this.image.addEventListener("load", () => {
        this.stage.style.aspectRatio = this.image.naturalWidth + " / " + this.image.naturalHeight;
        this.image.hidden = false;
        this.say((this.pictureNote = "Click to place points; close a polygon to mask that area."));
      });
      this.image.addEventListener("error", () => {
        this.say((this.pictureNote = "The camera is offline: drawing on a 16:9 placeholder."));
      });
      this.image.src = url;
    }

    say(text) {
      this.note.textContent = text;
    }

    place(event) {
      const box = this.canvas.getBoundingClientRect();
      const x = round((event.clientX - box.left) / box.width);
      this.current.push([x, round((event.clientY - box.top) / box.height)]);
      this.draw();
    }

    closePolygon() {
      if (this.current.length < MIN_POINTS) return;
      this.polygons.push(this.current);
      this.current = [];
      this.changed();
    }

    undo() {
      // With no open polygon, the last closed one reopens: undo always takes the last point.
      if (!this.current.length && this.polygons.length) this.current = this.polygons.pop();
      this.current.pop();
      this.changed();
    }

    clear() {
      this.polygons = [];
      this.current = [];
      this.changed();
    }

    readField() {
      const parsed = parseMask(this.field.value);
      if (parsed === null) return this.say(NOT_JSON);
      this.polygons = parsed;
      this.current = [];
      this.say(this.pictureNote);
      this.draw();
    }

    changed() {
      // Spaced as the server writes it; numbers hold no commas.
      this.field.value = JSON.stringify(this.polygons).replace(/,/g, ", ");
      this.draw();
    }

    draw() {
      const ratio = window.devicePixelRatio || 1;
      const width = this.canvas.clientWidth;
      const height = this.canvas.clientHeight;
      this.canvas.width = Math.round(width * ratio);
      this.canvas.height = Math.round(height * ratio);
      const ctx = this.canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.lineWidth = 2;
      const trace = (points) => {
        ctx.beginPath();
        points.forEach(([x, y], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, x * width, y * height));
      };
      for (const polygon of this.polygons.filter(drawable)) {
        trace(polygon);
        ctx.closePath();
        ctx.fillStyle = "rgba(229, 72, 77, 0.35)";
        ctx.fill();
        ctx.strokeStyle = "#e5484d";
        ctx.stroke();
      }
      this.drawCurrent(ctx, trace, width, height);
      this.updateButtons();
    }

    drawCurrent(ctx, trace, width, height) {
      trace(this.current);
      ctx.strokeStyle = ctx.fillStyle = "#f0a020";
      ctx.stroke();
      for (const [x, y] of this.current) {
        ctx.beginPath();
        ctx.arc(x * width, y * height, 4, 0, 2 * Math.PI);
        ctx.fill();
      }
    }

    updateButtons() {
      const empty = !this.current.length && !this.polygons.length;
      this.buttons.close.disabled = this.current.length < MIN_POINTS;
      this.buttons.undo.disabled = empty;
      this.buttons.clear.disabled = empty;
    }
  }

  function start() {
    document.querySelectorAll("[data-mask-editor]").forEach((root) => {
      const field = document.getElementById(root.dataset.field);
      if (field) new MaskEditor(root, field);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
