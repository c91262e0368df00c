// Shared helpers of the pages: JSON fetch with problem+json errors shown in Chinese, escaping, number format.
"use strict";
const cad = {
  esc(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  },
  num(value, digits = 2) {
    return value === null || value === undefined || Number.isNaN(Number(value)) ? "" : Number(value).toFixed(digits);
  },
  async json(url, options) {
    const response = await fetch(url, options);
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
  stageNames: {cadastral: "地籍调查", presale: "预测", asbuilt: "实测"},
  statusNames: {received: "已接收", accepted: "已受理", rejected: "已退回", refused: "已拒收", superseded: "已被替代"},
  severityNames: {error: "错误", warning: "警告", info: "提示"},
};
