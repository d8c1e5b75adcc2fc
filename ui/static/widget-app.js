/*
 * The widget panel's logic (runs inside the /widget iframe, same origin as the API).
 * Streams answers from POST /api/ask/stream (server-sent events) and renders everything with
 * textContent / createElement: model output can never become HTML here.
 */
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var lang = params.get("lang") === "en" ? "en" : "zh";
  var T = {
    zh: { hint: "你好！我是课程助教，可以回答大模型课程的问题，也能现场演示注意力、n-gram 和掩码。",
          placeholder: "问一个课程问题…（Enter 发送，Shift+Enter 换行）", label: "你的问题", send: "发送",
          thinking: "正在思考…", sources: "引用来源", foot: "回答基于课程笔记，请核对引用来源。",
          newChat: "新对话", close: "关闭", step: "正在", failed: "出错了，请稍后再试。",
          network: "连接中断，请重试。", tooLong: "问题太长了，上限是 2000 字。" },
    en: { hint: "Hi! I'm the course tutor: ask me about the LLM course, or for a live attention, n-gram or masking demo.",
          placeholder: "Ask a course question… (Enter to send, Shift+Enter for a new line)", label: "Your question", send: "Send",
          thinking: "Thinking…", sources: "Sources", foot: "Answers come from the course notes: check the cited sources.",
          newChat: "New conversation", close: "Close", step: "Working:", failed: "Something went wrong; please try again.",
          network: "Connection lost; please retry.", tooLong: "The question is too long (limit: 2000 characters)." }
  }[lang];
  var TOOL = { search_notes: ["检索课程笔记", "searching the notes"], attention: ["计算注意力", "computing attention"],
               ngram: ["n-gram 打分", "scoring with an n-gram model"], mask: ["演示掩码", "masking"] };

  var $ = function (id) { return document.getElementById(id); };
  var title = (params.get("title") || (lang === "en" ? "Course tutor" : "课程助教")).slice(0, 60);
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  document.title = title;
  $("title").textContent = title;
  $("hint").textContent = T.hint;
  $("q").placeholder = T.placeholder;
  $("q-label").textContent = T.label;
  $("send").textContent = T.send;
  $("foot").textContent = T.foot;
  $("new").setAttribute("aria-label", T.newChat); $("new").title = T.newChat;
  $("close").setAttribute("aria-label", T.close); $("close").title = T.close;
  var embedded = window.parent !== window;
  if (!embedded) $("close").hidden = true;

  var KEY = "course-tutor-session";
  function getSession() { try { return sessionStorage.getItem(KEY); } catch (e) { return null; } }
  function setSession(v) { try { if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY); } catch (e) {} }
  var notes = {};
  fetch("/api/notes").then(function (r) { return r.ok ? r.json() : {}; }).then(function (d) { notes = d || {}; }).catch(function () {});

  // ---- safe rendering: a tiny Markdown subset built from DOM nodes -------------------------
  function inline(parent, text) {
    var re = /(\*\*[^*\n]+\*\*|`[^`\n]+`)/g, last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) addText(parent, text.slice(last, m.index));
      var tok = m[0], el;
      if (tok.charAt(0) === "`") { el = document.createElement("code"); el.textContent = tok.slice(1, -1); }
      else { el = document.createElement("strong"); el.textContent = tok.slice(2, -2); }
      parent.appendChild(el);
      last = m.index + tok.length;
    }
    if (last < text.length) addText(parent, text.slice(last));
  }
  function addText(parent, text) {
    var lines = text.split("\n");
    lines.forEach(function (line, i) {
      if (i) parent.appendChild(document.createElement("br"));
      parent.appendChild(document.createTextNode(line));
    });
  }
  function render(el, text) {
    el.textContent = "";
    var parts = String(text).split(/^(`{3,})[^\n]*\n([\s\S]*?)\n\1[ \t]*$/m);
    // split() with two groups: [text, fence, code, text, fence, code, ...]
    for (var i = 0; i < parts.length; i += 3) {
      String(parts[i] || "").split(/\n{2,}/).forEach(function (para) {
        if (!para.trim()) return;
        var p = document.createElement("p"); inline(p, para.replace(/^\n+|\n+$/g, "")); el.appendChild(p);
      });
      if (i + 2 < parts.length) {
        var pre = document.createElement("pre"), code = document.createElement("code");
        code.textContent = parts[i + 2]; pre.appendChild(code); el.appendChild(pre);
      }
    }
  }
  function sourceText(s) {
    var t = notes[s.source], name = t ? (lang === "en" ? (t.title_en || t.title) : (t.title || t.title_en)) : "";
    var label = name ? "《" + name + "》" : s.source;
    return s.heading ? label + " › " + s.heading : label;
  }

  // ---- chat -----------------------------------------------------------------------------------
  var log = $("log"), form = $("form"), q = $("q"), send = $("send");
  function bubble(cls) {
    var d = document.createElement("div"); d.className = "msg " + cls; log.appendChild(d);
    log.scrollTop = log.scrollHeight; return d;
  }
  function scroll() { log.scrollTop = log.scrollHeight; }

  async function ask(question) {
    bubble("user").textContent = question;
    var bot = bubble("bot"), status = document.createElement("div"), body = document.createElement("div");
    status.className = "status"; status.textContent = T.thinking; bot.appendChild(status); bot.appendChild(body);
    send.disabled = true; log.setAttribute("aria-busy", "true");
    var answer = "";
    try {
      var payload = { question: question }; var sid = getSession(); if (sid) payload.session_id = sid;
      var res = await fetch("/api/ask/stream", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
      if (!res.ok) {
        var msg = T.failed;
        try { var j = await res.json(); msg = (j.error && j.error.message) || j.detail || msg; } catch (e) {}
        throw new Error(msg);
      }
      var reader = res.body.getReader(), dec = new TextDecoder(), buf = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buf += dec.decode(chunk.value, { stream: true });
        var idx;
        while ((idx = buf.indexOf("\n\n")) >= 0) {
          var raw = buf.slice(0, idx); buf = buf.slice(idx + 2);
          var ev = "message", data = "";
          raw.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) ev = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
          });
          var obj = {}; try { obj = JSON.parse(data || "{}"); } catch (e) {}
          if (ev === "step") {
            var tn = TOOL[obj.tool]; status.textContent = "🛠️ " + (tn ? tn[lang === "en" ? 1 : 0] : (obj.tool || T.thinking)) + "…";
          } else if (ev === "token") {
            answer += obj.text || ""; body.textContent = answer; status.textContent = "";
          } else if (ev === "final") {
            status.textContent = "";
            render(body, obj.answer || answer);
            if (obj.kind === "error") bot.classList.add("error");
            setSession(obj.session_id || null);
            if (obj.sources && obj.sources.length) {
              var h = document.createElement("div"); h.className = "sources-title"; h.textContent = "📚 " + T.sources;
              var ol = document.createElement("ol"); ol.className = "sources";
              obj.sources.forEach(function (s) { var li = document.createElement("li"); li.textContent = sourceText(s); ol.appendChild(li); });
              bot.appendChild(h); bot.appendChild(ol);
            }
          } else if (ev === "error") {
            throw new Error(obj.message || T.failed);
          }
          scroll();
        }
      }
    } catch (e) {
      status.textContent = "";
      bot.classList.add("error");
      body.textContent = (e && e.message && e.message !== "Failed to fetch") ? e.message : T.network;
    } finally {
      send.disabled = false; log.setAttribute("aria-busy", "false"); scroll(); q.focus();
    }
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = q.value.trim();
    if (!text || send.disabled) return;
    if (text.length > 2000) { bubble("bot error").textContent = T.tooLong; return; }
    q.value = "";
    ask(text);
  });
  q.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  $("new").addEventListener("click", function () {
    var sid = getSession();
    if (sid) fetch("/api/sessions/" + encodeURIComponent(sid), { method: "DELETE" }).catch(function () {});
    setSession(null);
    Array.prototype.slice.call(log.children).forEach(function (c) { if (c.id !== "hint") log.removeChild(c); });
    q.focus();
  });
  function closeMe() { if (embedded) window.parent.postMessage({ source: "course-tutor", type: "close" }, "*"); }
  $("close").addEventListener("click", closeMe);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") closeMe(); });
  window.addEventListener("message", function (e) {
    var d = e.data || {};
    if (d.source === "course-tutor" && d.type === "focus") q.focus();
  });
  if (embedded) window.parent.postMessage({ source: "course-tutor", type: "ready" }, "*");
})();
