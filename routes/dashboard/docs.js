// Swagger UI over this server's OpenAPI document (a file, not an inline script: the page's CSP allows none).
globalThis.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true });
