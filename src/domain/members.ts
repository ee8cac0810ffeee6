// Member (principal) syntax of bindings, as IAM has it, and its canonical form.
import { quoted } from "../service-error.js";

const EMAIL = /^[a-zA-Z0-9._%+'-]+@[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+$/;
const DOMAIN = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;
// A group is an email address or an opaque id such as Anyscale's `ug_abc123`.
const GROUP_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,254}$/;

export const ALL_USERS = "allUsers";
export const ALL_AUTHENTICATED_USERS = "allAuthenticatedUsers";

// IAM's unique id of a deleted principal: `deleted:user:ada@example.com?uid=123456789012345678901`.
const DELETED_UID = /^[a-zA-Z0-9_-]{1,128}$/;
// Workload and workforce identity federation: `principal://iam.googleapis.com/...`, `principalSet://...`. Opaque here.
const FEDERATED = /^[!-~]{1,1000}$/;

const MEMBER_FORMS =
  "user:{email}, group:{id}, serviceAccount:{email}, domain:{domain}, allUsers, allAuthenticatedUsers, " +
  "deleted:{user|group|serviceAccount}:{email or id}?uid={uid}, principal://{identity} or principalSet://{identity set}";

/** Longest member: an e-mail address is at most 254 characters; room for a kind and an IAM suffix such as `?uid=`. */
export const MAX_MEMBER_LENGTH = 512;

/** The canonical form of a member (emails and domains lower-cased), or a description of what is wrong with it. */
export function canonicalMember(member: string): { member: string } | { error: string } {
  if (member === ALL_USERS || member === ALL_AUTHENTICATED_USERS) return { member };
  if (member.length > MAX_MEMBER_LENGTH) return { error: `${quoted(member)} is longer than ${MAX_MEMBER_LENGTH} characters` };
  if (member.startsWith("principal://") || member.startsWith("principalSet://")) {
    const rest = member.slice(member.indexOf("://") + 3);
    return FEDERATED.test(rest) ? { member } : { error: `${quoted(member)}: a federated identity has no spaces or control characters` };
  }
  if (member.startsWith("deleted:")) return deletedMember(member);
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

/**
 * A principal IAM shows after its deletion: the live principal's canonical form with its unique id. It never matches a
 * live principal (a new principal of the same name is another one), so it grants nothing; it stays in the policy
 * until removed, as in IAM.
 */
function deletedMember(member: string): { member: string } | { error: string } {
  const query = member.lastIndexOf("?uid=");
  const uid = query < 0 ? "" : member.slice(query + "?uid=".length);
  const live = canonicalMember(member.slice("deleted:".length, query < 0 ? undefined : query));
  const kindOk = "member" in live && ["user:", "group:", "serviceAccount:"].some((k) => live.member.startsWith(k));
  if (!kindOk || !DELETED_UID.test(uid)) {
    return { error: `${quoted(member)}: a deleted principal is deleted:{user|group|serviceAccount}:{email or id}?uid={uid}` };
  }
  return { member: `deleted:${(live as { member: string }).member}?uid=${uid}` };
}

/** Groups (deleted ones too) and domains count against IAM's separate limit of 250. */
export function isGroupOrDomain(member: string): boolean {
  return member.startsWith("group:") || member.startsWith("domain:") || member.startsWith("deleted:group:");
}
