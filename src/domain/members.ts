// Member (principal) syntax of bindings, as IAM has it, and its canonical form.
import { quoted } from "../errors.js";

const EMAIL = /^[a-zA-Z0-9._%+'-]+@[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+$/;
const DOMAIN = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;
// A group is an email address or an opaque id such as Anyscale's `ug_abc123`.
const GROUP_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,254}$/;

export const ALL_USERS = "allUsers";
export const ALL_AUTHENTICATED_USERS = "allAuthenticatedUsers";

const MEMBER_FORMS =
  "user:{email}, group:{id}, serviceAccount:{email}, domain:{domain}, allUsers or allAuthenticatedUsers";

/** Longest member: an e-mail address is at most 254 characters; room for a kind and an IAM suffix such as `?uid=`. */
export const MAX_MEMBER_LENGTH = 512;

/** The canonical form of a member (emails and domains lower-cased), or a description of what is wrong with it. */
export function canonicalMember(member: string): { member: string } | { error: string } {
  if (member === ALL_USERS || member === ALL_AUTHENTICATED_USERS) return { member };
  if (member.length > MAX_MEMBER_LENGTH) return { error: `${quoted(member)} is longer than ${MAX_MEMBER_LENGTH} characters` };
  const colon = member.indexOf(":");
  const kind = colon < 0 ? "" : member.slice(0, colon);
  const value = member.slice(colon + 1);
  switch (kind) {
    case "user":
    case "serviceAccount":
      return EMAIL.test(value)
        ? { member: `${kind}:${value.toLowerCase()}` }
        : { error: `${quoted(member)}: ${kind} needs an email address, e.g. ${kind}:ada@example.com` };
    case "group":
      return GROUP_ID.test(value)
        ? { member: `group:${EMAIL.test(value) ? value.toLowerCase() : value}` }
        : { error: `${quoted(member)}: group needs an email address or an id such as ug_abc123` };
    case "domain":
      return DOMAIN.test(value)
        ? { member: `domain:${value.toLowerCase()}` }
        : { error: `${quoted(member)}: domain needs a domain name, e.g. domain:example.com` };
    default:
      return { error: `${quoted(member)} is not a member; expected one of ${MEMBER_FORMS}` };
  }
}

/** Groups and domains count against IAM's separate limit of 250. */
export function isGroupOrDomain(member: string): boolean {
  return member.startsWith("group:") || member.startsWith("domain:");
}
