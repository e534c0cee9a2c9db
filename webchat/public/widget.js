/*
 * OTKE chat widget: talks to the Rasa server's web chat channel over socket.io (websocket only).
 *
 * Embed on any page:
 *   <link rel="stylesheet" href="https://<host>/webchat/widget.css">
 *   <script src="https://<host>/webchat/vendor/socket.io.min.js"></script>
 *   <script src="https://<host>/webchat/widget.js" data-server="https://<rasa-host>" defer></script>
 * Options (data-* on the script tag): data-server (the Rasa server; default: this host, port 5005),
 * data-open="true" (start opened), data-title (header text).
 *
 * The conversation survives a reload: the session id and the messages are kept in localStorage.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var options = (script && script.dataset) || {};
  var server = options.server || window.location.protocol + "//" + window.location.hostname + ":5005";
  var storageKey = "otke-webchat:" + server;
  var maxHistory = 200;

  var text = {
    title: options.title || "Чат-бот АТ «ОТКЕ»",
    contacts: "Телефон для споживачів (0 800) 407-707 (безкоштовно) · Колцентр 0 800-50-50-51",
    open: "Чат з АТ «ОТКЕ»",
    close: "Згорнути чат",
    placeholder: "Напишіть повідомлення…",
    send: "Відправити",
    offline: "Немає зв’язку із сервером. Повторюємо спробу…",
    connecting: "З’єднання…",
  };

  function load() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(storageKey) || "{}");
      return { sessionId: saved.sessionId || null, history: Array.isArray(saved.history) ? saved.history : [] };
    } catch (error) {
      return { sessionId: null, history: [] };
    }
  }

  var state = load();

  function save() {
    state.history = state.history.slice(-maxHistory);
    try {
      window.localStorage.setItem(storageKey, JSON.stringify(state));
    } catch (error) {
      /* private mode or full storage: the chat still works, it just forgets on reload */
    }
  }

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  // --- the widget's DOM ---------------------------------------------------------------------
  var root = element("section", "otke-chat");
  root.setAttribute("aria-label", text.title);
  var launcher = element("button", "otke-chat__launcher", text.open);
  launcher.type = "button";
  var panel = element("div", "otke-chat__panel");
  var header = element("header", "otke-chat__header");
  var titleRow = element("div", "otke-chat__title-row");
  titleRow.appendChild(element("h2", "otke-chat__title", text.title));
  var closer = element("button", "otke-chat__close", "×");
  closer.type = "button";
  closer.setAttribute("aria-label", text.close);
  titleRow.appendChild(closer);
  header.appendChild(titleRow);
  header.appendChild(element("p", "otke-chat__contacts", text.contacts));
  var status = element("div", "otke-chat__status", text.connecting);
  status.setAttribute("role", "status");
  status.setAttribute("data-state", "connecting");
  var log = element("div", "otke-chat__log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  var replies = element("div", "otke-chat__replies");
  var form = element("form", "otke-chat__form");
  var input = element("input", "otke-chat__input");
  input.type = "text";
  input.placeholder = text.placeholder;
  input.setAttribute("aria-label", text.placeholder);
  input.autocomplete = "off";
  input.maxLength = 1000;
  var sendButton = element("button", "otke-chat__send", text.send);
  sendButton.type = "submit";
  form.appendChild(input);
  form.appendChild(sendButton);
  panel.appendChild(header);
  panel.appendChild(status);
  panel.appendChild(log);
  panel.appendChild(replies);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);

  function setOpen(open) {
    root.classList.toggle("otke-chat--open", open);
    if (open) {
      input.focus();
      log.scrollTop = log.scrollHeight;
    }
  }
  launcher.addEventListener("click", function () { setOpen(true); });
  closer.addEventListener("click", function () { setOpen(false); });

  // --- messages -------------------------------------------------------------------------------
  function showReplies(buttons) {
    replies.textContent = "";
    (buttons || []).forEach(function (button) {
      var chip = element("button", "otke-chat__reply", button.title);
      chip.type = "button";
      chip.addEventListener("click", function () { send(button.payload, button.title); });
      replies.appendChild(chip);
    });
    log.scrollTop = log.scrollHeight; // the replies take room from the log: keep its end in view
  }

  function render(entry) {
    var bubble = element("div", "otke-chat__message otke-chat__message--" + entry.from);
    if (entry.image) {
      var image = element("img", "otke-chat__image");
      image.src = entry.image;
      image.alt = "";
      bubble.appendChild(image);
    }
    if (entry.text) bubble.appendChild(element("p", "otke-chat__text", entry.text));
    log.appendChild(bubble);
    log.scrollTop = log.scrollHeight;
  }

  function remember(entry) {
    state.history.push(entry);
    save();
    render(entry);
  }

  function fromBot(message) {
    var buttons = (message.quick_replies || message.buttons || []).map(function (button) {
      return { title: String(button.title || button.payload), payload: String(button.payload || button.title) };
    });
    var image = message.attachment && message.attachment.payload && message.attachment.payload.src;
    if (!message.text && !image) return;
    remember({ from: "bot", text: message.text || "", image: image || null, buttons: buttons });
    showReplies(buttons);
  }

  function send(message, shown) {
    if (!message || !socket.connected || !state.sessionId) return;
    if (shown !== null) remember({ from: "user", text: shown || message });
    showReplies([]);
    socket.emit("user_uttered", { message: message, session_id: state.sessionId });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var typed = input.value.trim();
    if (!typed) return;
    input.value = "";
    send(typed, typed);
  });

  // --- the connection -------------------------------------------------------------------------
  function setOnline(online) {
    status.setAttribute("data-state", online ? "online" : "offline");
    status.textContent = online ? "" : text.offline;
    input.disabled = !online;
    sendButton.disabled = !online;
    Array.prototype.forEach.call(replies.children, function (chip) { chip.disabled = !online; });
  }

  state.history.forEach(render);
  var last = state.history[state.history.length - 1];
  if (last && last.from === "bot") showReplies(last.buttons);

  var socket = window.io(server, {
    path: "/socket.io",
    transports: ["websocket"],
    reconnection: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    timeout: 5000,
  });
  setOnline(false);
  status.setAttribute("data-state", "connecting");
  status.textContent = text.connecting;

  socket.on("connect", function () {
    socket.emit("session_request", { session_id: state.sessionId });
  });
  socket.on("session_confirm", function (sessionId) {
    var fresh = state.sessionId !== sessionId || state.history.length === 0;
    state.sessionId = sessionId;
    save();
    setOnline(true);
    if (fresh && state.history.length === 0) send("/greet", null);
  });
  socket.on("bot_uttered", fromBot);
  socket.on("disconnect", function () { setOnline(false); });
  socket.on("connect_error", function () { setOnline(false); });

  function mount() {
    document.body.appendChild(root);
    if (options.open === "true") setOpen(true);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
