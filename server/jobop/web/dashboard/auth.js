// jobop dashboard: bearer tokens, for servers started with --tokens-file.
//
// Loaded before app.js and kept apart from it. When the server answers 401 the dashboard
// asks for a token (a password field), keeps it in sessionStorage (this tab only; gone
// when the tab closes, never in localStorage or a cookie) and sends it as
// `Authorization: Bearer …` on its own same-origin requests. EventSource cannot send
// headers, and a token in the URL would end up in logs and history, so EventSource is
// replaced here by a fetch()-based reader of the same text/event-stream: the same
// events, `retry:` and Last-Event-ID resumption, with the header.
"use strict";

(() => {
  const KEY = "jobop.token";
  const nativeFetch = window.fetch.bind(window);
  let asking = null; // the open prompt's promise: concurrent 401s share one prompt

  function askForToken(message) {
    if (asking) return asking;
    asking = new Promise((resolve) => {
      const dialog = document.createElement("dialog");
      dialog.id = "token-dialog";
      dialog.setAttribute("aria-labelledby", "token-title");
      const form = document.createElement("form");
      form.method = "dialog";
      const title = document.createElement("h2");
      title.id = "token-title";
      title.textContent = "Token needed";
      const hint = document.createElement("p");
      hint.className = "hint";
      hint.textContent = message || "This server needs a bearer token.";
      const label = document.createElement("label");
      label.textContent = "token ";
      const input = document.createElement("input");
      input.type = "password";
      input.id = "token-input";
      input.autocomplete = "off";
      label.append(input);
      const menu = document.createElement("menu");
      const ok = document.createElement("button");
      ok.type = "submit";
      ok.id = "token-submit";
      ok.textContent = "Use token";
      menu.append(ok);
      form.append(title, hint, label, menu);
      dialog.append(form);
      document.body.append(dialog);
      dialog.addEventListener("close", () => {
        const token = input.value.trim();
        dialog.remove();
        asking = null;
        resolve(token || null);
      });
      dialog.showModal();
      input.focus();
    });
    return asking;
  }

  function sameOrigin(input) {
    const url = new URL(typeof input === "string" ? input : input.url, location.href);
    return url.origin === location.origin;
  }

  // fetch with the kept token; a 401 asks for one (again) and retries, until cancelled.
  window.fetch = async (input, init = {}) => {
    if (!sameOrigin(input)) return nativeFetch(input, init);
    for (;;) {
      const headers = new Headers(init.headers || {});
      const token = sessionStorage.getItem(KEY);
      if (token) headers.set("Authorization", `Bearer ${token}`);
      const response = await nativeFetch(input, { ...init, headers });
      if (response.status !== 401) return response;
      sessionStorage.removeItem(KEY); // unknown or revoked: do not send it again
      const body = await response.clone().json().catch(() => null);
      const entered = await askForToken(body && body.error && body.error.message);
      if (!entered) return response;
      sessionStorage.setItem(KEY, entered);
    }
  };

  // What app.js uses of EventSource: onopen/onerror/onmessage, addEventListener, close.
  class FetchEventSource extends EventTarget {
    constructor(url) {
      super();
      this.url = new URL(url, location.href).href;
      this.readyState = 0; // CONNECTING
      this.onopen = this.onerror = this.onmessage = null;
      this._lastEventId = "";
      this._retry = 2000;
      this._controller = null;
      this._run();
    }

    close() {
      this.readyState = 2; // CLOSED
      if (this._controller) this._controller.abort();
    }

    _emit(event) {
      this.dispatchEvent(event);
      const handler = this[`on${event.type}`];
      if (typeof handler === "function") handler.call(this, event);
    }

    async _run() {
      while (this.readyState !== 2) {
        this._controller = new AbortController();
        try {
          const headers = { Accept: "text/event-stream" };
          if (this._lastEventId) headers["Last-Event-ID"] = this._lastEventId;
          const response = await window.fetch(this.url, {
            headers,
            signal: this._controller.signal,
            cache: "no-store",
          });
          const type = response.headers.get("Content-Type") || "";
          if (!response.ok || !type.startsWith("text/event-stream")) {
            // As EventSource: an answer that is not a stream fails it for good.
            this.readyState = 2;
            this._emit(new Event("error"));
            return;
          }
          this.readyState = 1; // OPEN
          this._emit(new Event("open"));
          await this._read(response.body);
        } catch (error) {
          if (this.readyState === 2) return; // closed by us
        }
        if (this.readyState === 2) return;
        this.readyState = 0;
        this._emit(new Event("error"));
        await new Promise((resolve) => setTimeout(resolve, this._retry));
      }
    }

    async _read(body) {
      const reader = body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let name = "";
      let data = [];
      let id = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(buffer.startsWith("\r\n", end) ? end + 2 : end + 1);
          if (line === "") {
            if (id !== null) this._lastEventId = id;
            if (data.length) {
              const init = { data: data.join("\n"), lastEventId: this._lastEventId };
              this._emit(new MessageEvent(name || "message", init));
            }
            name = "";
            data = [];
            id = null;
            continue;
          }
          if (line.startsWith(":")) continue; // a comment: heartbeats
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let text = colon < 0 ? "" : line.slice(colon + 1);
          if (text.startsWith(" ")) text = text.slice(1);
          if (field === "event") name = text;
          else if (field === "data") data.push(text);
          else if (field === "id") id = text;
          else if (field === "retry" && /^\d+$/.test(text)) this._retry = Number(text);
        }
      }
    }
  }

  window.EventSource = FetchEventSource;
})();
