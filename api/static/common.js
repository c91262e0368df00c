// Shared helpers of the pages: signing in (a bearer token kept for this browser tab), JSON fetch with the token and
// with problem+json errors shown in Chinese, escaping, number format.
"use strict";
const TOKEN_KEY = "cadastre.token";
const cad = {
  roleNames: {surveyor: "测绘单位", registrar: "登记员", planner: "规划", analyst: "分析", admin: "管理员"},
  token() { return sessionStorage.getItem(TOKEN_KEY); },
  authHeaders() { const t = cad.token(); return t ? {Authorization: `Bearer ${t}`} : {}; },
  // Resolves with the signed-in user ({name, role, permissions}); asks for a name and password when needed.
  async signIn() {
    if (cad.token()) {
      const response = await fetch("/api/me", {headers: cad.authHeaders()});
      if (response.ok) { const me = await response.json(); cad.showUser(me); return me; }
      sessionStorage.removeItem(TOKEN_KEY);
    }
    return new Promise((resolve) => {
      const dialog = document.createElement("div");
      dialog.className = "dialog login";
      dialog.innerHTML = `<form id="login-form" class="login-box"><h2>登录</h2>
        <label>用户名 <input id="login-name" name="username" autocomplete="username" required></label>
        <label>密码 <input id="login-password" name="password" type="password" autocomplete="current-password" required></label>
        <p id="login-error" class="error" role="alert"></p><button type="submit">登录</button></form>`;
      document.body.appendChild(dialog);
      dialog.querySelector("#login-name").focus();
      dialog.querySelector("form").addEventListener("submit", async (e) => {
        e.preventDefault();
        const response = await fetch("/api/token", {method: "POST", body: new URLSearchParams(new FormData(e.target))});
        const body = await response.json().catch(() => ({}));
        if (!response.ok) { dialog.querySelector("#login-error").textContent = body.detail || "登录失败"; return; }
        sessionStorage.setItem(TOKEN_KEY, body.access_token);
        dialog.remove();
        resolve(await cad.signIn());
      });
    });
  },
  showUser(me) {
    let box = document.getElementById("user");
    if (!box) {
      box = document.createElement("span");
      box.id = "user";
      (document.querySelector("header nav") || document.body).prepend(box);
    }
    box.innerHTML = `${cad.esc(me.name)}（${cad.esc(cad.roleNames[me.role] || me.role)}） <button type="button" class="link" id="sign-out">退出</button> · `;
    box.querySelector("#sign-out").addEventListener("click", async () => {
      await fetch("/api/token", {method: "DELETE", headers: cad.authHeaders()});
      sessionStorage.removeItem(TOKEN_KEY);
      location.reload();
    });
  },
  esc(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  },
  num(value, digits = 2) {
    return value === null || value === undefined || Number.isNaN(Number(value)) ? "" : Number(value).toFixed(digits);
  },
  async json(url, options = {}) {
    let response = await fetch(url, {...options, headers: {...(options.headers || {}), ...cad.authHeaders()}});
    if (response.status === 401) {  // the session ended: sign in again, then repeat the request once
      sessionStorage.removeItem(TOKEN_KEY);
      await cad.signIn();
      response = await fetch(url, {...options, headers: {...(options.headers || {}), ...cad.authHeaders()}});
    }
    const type = response.headers.get("content-type") || "";
    const body = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const message = (body && body.detail) || (body && body.title) || `请求失败（${response.status}）`;
      const error = new Error(message);
      error.status = response.status;
      error.problem = body;
      throw error;
    }
    return body;
  },
  // Links to the service's files (reports, Excel, printable tables) need the token, which a plain link cannot
  // send: fetch them with it and hand the browser the bytes (a new tab for HTML, a download for the rest).
  async openAuthed(link) {
    const response = await fetch(link.getAttribute("href"), {headers: cad.authHeaders()});
    if (!response.ok) { const b = await response.json().catch(() => ({})); alert(b.detail || `请求失败（${response.status}）`); return; }
    const url = URL.createObjectURL(await response.blob());
    if (link.hasAttribute("download")) {
      const a = document.createElement("a");
      a.href = url; a.download = link.getAttribute("download") || ""; a.click();
    } else {
      window.open(url, "_blank");
    }
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  },
  stageNames: {cadastral: "地籍调查", presale: "预测", asbuilt: "实测"},
  statusNames: {received: "已接收", accepted: "已受理", rejected: "已退回", refused: "已拒收", superseded: "已被替代"},
  severityNames: {error: "错误", warning: "警告", info: "提示"},
};
document.addEventListener("click", (e) => {
  const link = e.target.closest && e.target.closest("a[data-authed]");
  if (link) { e.preventDefault(); cad.openAuthed(link); }
});
