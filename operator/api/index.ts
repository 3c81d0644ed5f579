// The kvorum.io/v1alpha1 API: resource types, names, defaults and validation.
export * from './constants.js';
export * from './types.js';
export * from './quantity.js';
export * from './defaults.js';
export * from './validation.js';
