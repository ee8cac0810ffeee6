// The types of build-if-stale.mjs (plain JavaScript, so that `npm start` need not load tsx to run it).
export declare const ROOT: string;
export declare const STAMP: string;
export declare const INPUTS: readonly string[];
export declare function isStale(): boolean;
