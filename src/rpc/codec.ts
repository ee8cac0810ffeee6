// Which codec a call uses, from its request's content type: a binary one can carry bytes made beforehand as unknown
// fields (Snapshot's stored policies, Watch's shared messages); JSON writes no unknown fields.

/** application/json, application/connect+json, application/grpc+json, application/grpc-web+json. */
export const isJson = (contentType: string | null): boolean => contentType !== null && /[/+]json\b/.test(contentType);
