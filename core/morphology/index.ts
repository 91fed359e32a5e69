// Morphology and connected components on 0/1 Uint8Array masks (scipy.ndimage defaults).
export { binaryErosion, binaryDilation } from './binary.js';
export { boundaryRing, backgroundRing } from './rings.js';
export { labelComponents4, keepLargestComponent } from './components.js';
export { maskPlane, stackPlanes } from '../masks/convert.js';
