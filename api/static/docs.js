// Swagger UI on this service's OpenAPI document (a file of its own: the pages allow no inline script).
"use strict";
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});
