/*
 * 课程助教 — embeddable Q&A widget loader.
 *
 *   <script src="http://HOST:PORT/widget.js" data-title="课程助教" async></script>
 *
 * Optional attributes: data-lang="zh|en", data-position="right|left", data-color="#4f46e5".
 * Adds one floating button (inside a shadow root, so the page's CSS cannot restyle it) that opens
 * a small chat panel: an iframe of HOST:PORT/widget, isolated from the page's CSS and scripts.
 * The server decides which sites may frame it (Content-Security-Policy: frame-ancestors).
 */
(function () {
  "use strict";
  if (window.__courseTutorWidgetLoaded) return;
  var script = document.currentScript;
  if (!script) {
    var all = document.querySelectorAll('script[src*="widget.js"]');
    script = all[all.length - 1];
  }
  if (!script || !script.src) return;
  window.__courseTutorWidgetLoaded = true;

  var base = new URL(script.src, window.location.href).origin;
  var title = (script.getAttribute("data-title") || "课程助教").slice(0, 60);
  var lang = (script.getAttribute("data-lang") || "zh").toLowerCase() === "en" ? "en" : "zh";
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";
  var colorAttr = script.getAttribute("data-color") || "";
  var color = /^#[0-9a-fA-F]{3,8}$/.test(colorAttr) ? colorAttr : "#4f46e5";
  var openLabel = lang === "en" ? "Open " + title : "打开" + title;
  var closeLabel = lang === "en" ? "Close " + title : "关闭" + title;

  var css =
    ":host{all:initial}" +
    ".btn{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483646;width:56px;height:56px;border-radius:50%;" +
    "border:0;margin:0;padding:0;background:" + color + ";color:#fff;cursor:pointer;display:flex;align-items:center;" +
    "justify-content:center;box-shadow:0 6px 20px rgba(0,0,0,.28);transition:transform .15s ease}" +
    ".btn:hover{transform:scale(1.06)}" +
    ".btn:focus-visible{outline:3px solid #f59e0b;outline-offset:3px}" +
    ".btn svg{width:28px;height:28px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}" +
    ".panel{position:fixed;bottom:88px;" + side + ":20px;z-index:2147483647;width:380px;max-width:calc(100vw - 40px);" +
    "height:min(620px,calc(100vh - 110px));border-radius:14px;overflow:hidden;background:#fff;" +
    "box-shadow:0 12px 40px rgba(0,0,0,.28);display:none}" +
    ".panel.open{display:block}" +
    ".panel iframe{border:0;width:100%;height:100%;display:block;background:#fff}" +
    "@media (max-width:520px){.panel{top:0;left:0;right:0;bottom:0;width:100%;max-width:none;height:100%;border-radius:0}" +
    ".btn.open{display:none}}";

  var host = document.createElement("div");
  host.setAttribute("data-course-tutor-widget", "");
  var root = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = css;
  var btn = document.createElement("button");
  btn.type = "button";
  btn.className = "btn";
  btn.setAttribute("aria-label", openLabel);
  btn.setAttribute("title", title);
  btn.setAttribute("aria-expanded", "false");
  btn.setAttribute("aria-controls", "course-tutor-panel");
  btn.innerHTML =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"/>' +
    '<path d="M8.5 10.5h7M8.5 13.5h4.5"/></svg>';
  var panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "course-tutor-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  root.appendChild(style);
  root.appendChild(btn);
  root.appendChild(panel);

  var frame = null;
  function ensureFrame() {
    if (frame) return frame;
    frame = document.createElement("iframe");
    frame.title = title;
    frame.src = base + "/widget?embed=1&lang=" + lang + "&title=" + encodeURIComponent(title);
    frame.setAttribute("loading", "eager");
    panel.appendChild(frame);
    return frame;
  }
  function tell(type) {
    if (frame && frame.contentWindow) frame.contentWindow.postMessage({ source: "course-tutor", type: type }, base);
  }
  function open() {
    var f = ensureFrame();
    panel.classList.add("open");
    btn.classList.add("open");
    btn.setAttribute("aria-expanded", "true");
    btn.setAttribute("aria-label", closeLabel);
    f.focus();
    tell("focus");
  }
  function close() {
    panel.classList.remove("open");
    btn.classList.remove("open");
    btn.setAttribute("aria-expanded", "false");
    btn.setAttribute("aria-label", openLabel);
    btn.focus();
  }
  btn.addEventListener("click", function () {
    if (panel.classList.contains("open")) close(); else open();
  });
  root.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && panel.classList.contains("open")) close();
  });
  window.addEventListener("message", function (e) {
    if (e.origin !== base || !frame || e.source !== frame.contentWindow) return;
    var d = e.data || {};
    if (d.source !== "course-tutor") return;
    if (d.type === "close") close();
    if (d.type === "ready" && panel.classList.contains("open")) tell("focus");
  });

  function mount() { (document.body || document.documentElement).appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
