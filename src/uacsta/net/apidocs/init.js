// Starts Swagger UI on the OpenAPI document the page names (no inline script:
// the pages' Content-Security-Policy allows scripts from the server only).
"use strict";
window.ui = SwaggerUIBundle({
  url: document.body.dataset.openapi,
  dom_id: "#swagger-ui",
  deepLinking: true,
});
