import assert from "node:assert/strict";
import { multipart } from "./files.js";
import { rawRequest, type RawResponse } from "./http.js";

/**
 * The user-file calls of the API over plain HTTP and JSON, for tests that follow a file from upload to
 * download: through one server, or through one process and back out of another.
 */

const json = (response: RawResponse): Record<string, unknown> =>
  JSON.parse(response.body.toString("utf8")) as Record<string, unknown>;

const bearer = (token: string) => ({ authorization: `Bearer ${token}`, accept: "application/json" });

/**
 * PUT /users/me/avatar with `bytes` as the `avatar` file.
 * @returns the answer, and the avatar URL it names when it succeeded
 */
export async function putAvatar(
  baseUrl: string,
  token: string,
  bytes: Buffer | string,
): Promise<{ response: RawResponse; avatarUrl: string }> {
  const form = multipart([{ name: "avatar", filename: "me.png", contentType: "image/png", data: bytes }]);
  const response = await rawRequest(`${baseUrl}/api/v1/users/me/avatar`, {
    method: "PUT",
    headers: { ...bearer(token), "content-type": form.contentType },
    body: form.body,
  });
  return { response, avatarUrl: response.status === 200 ? String(json(response).avatarUrl) : "" };
}

/**
 * POST /achievements with a JSON `achievement` part and `proof` as the file.
 * @returns the answer, and the new achievement's id when it was created
 */
export async function submitAchievement(
  baseUrl: string,
  token: string,
  proof: Buffer,
  title = "Regional olympiad, 2nd place",
): Promise<{ response: RawResponse; id: string }> {
  const form = multipart([
    {
      name: "achievement",
      contentType: "application/json",
      data: JSON.stringify({ kind: "ACHIEVEMENT_KIND_OLYMPIAD", title, description: "With proof." }),
    },
    { name: "proof", filename: "proof.png", contentType: "image/png", data: proof },
  ]);
  const response = await rawRequest(`${baseUrl}/api/v1/achievements`, {
    method: "POST",
    headers: { ...bearer(token), "content-type": form.contentType },
    body: form.body,
  });
  return { response, id: response.status === 201 ? String(json(response).id) : "" };
}

/** GET /achievements/{id}/proof as `token`'s holder. */
export const downloadProof = (baseUrl: string, token: string, id: string) =>
  rawRequest(`${baseUrl}/api/v1/achievements/${id}/proof`, { headers: bearer(token) });

/** Accepts a pending achievement for `points`, as staff; fails the test unless it succeeds. */
export async function acceptAchievement(baseUrl: string, token: string, id: string, points: number): Promise<void> {
  const response = await rawRequest(`${baseUrl}/api/v1/achievements/${id}/moderate`, {
    method: "POST",
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify({ decision: "MODERATION_DECISION_ACCEPT", points }),
  });
  assert.equal(response.status, 200, response.body.toString("utf8"));
}

/** An authenticated call with no body (GET, DELETE), answered in JSON. */
export const call = (baseUrl: string, token: string, method: string, path: string) =>
  rawRequest(`${baseUrl}/api/v1${path}`, { method, headers: bearer(token) });
