// Starts Swagger UI on the API's generated OpenAPI document (no inline script: CSP).
const root = document.getElementById("swagger-ui");
window.SwaggerUIBundle({ url: root.dataset.specUrl, domNode: root, deepLinking: true });
