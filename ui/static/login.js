import { errorText, setLanguage, t, language } from "/ui/i18n.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const langButton = document.getElementById("login-lang");
setLanguage(localStorage.getItem("tryggbo-lang") || "sv");
langButton.textContent = language() === "sv" ? "English" : "Svenska";

langButton.addEventListener("click", () => {
  const next = language() === "sv" ? "en" : "sv";
  localStorage.setItem("tryggbo-lang", next);
  setLanguage(next);
  langButton.textContent = next === "sv" ? "English" : "Svenska";
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const button = document.getElementById("login-button");
  button.disabled = true;
  try {
    const resp = await fetch("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    if (resp.ok) {
      location.href = "/ui/index.html";
      return;
    }
    const body = await resp.json().catch(() => ({}));
    const code = body.error?.code;
    if (code === "locked") {
      error.textContent = t("locked", { minutes: Math.ceil((body.error?.details?.retry_after_s ?? 900) / 60) });
    } else if (code === "bad_credentials") {
      error.textContent = t("bad_credentials");
    } else {
      error.textContent = errorText({ status: resp.status, data: body });
    }
  } catch {
    error.textContent = t("error_network");
  } finally {
    button.disabled = false;
  }
});
