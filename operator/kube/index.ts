// Kubernetes API glue: configuration, a typed REST client, resource paths, Events.
export * from './config.js';
export * from './client.js';
export * from './resources.js';
export * from './events.js';
