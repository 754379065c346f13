// A select marked data-autosubmit submits its form as soon as it changes (the page's
// policy allows no inline handlers, so this is how a choice like the project applies).
"use strict";
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit") && field.form) {
    field.form.requestSubmit();
  }
});
