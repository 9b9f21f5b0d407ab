/**
 * What the browser check's page (page.ts) offers the test (browser.test.ts) on `window.shtpPage`: each
 * step is one thing a web app does with the generated client, returning what the test checks. Shared
 * by both sides, so it uses no DOM or Node type.
 */

/** The page's steps; each rejects, and so fails the test, when its call fails. */
export interface PageApi {
  /** Makes a client in `encoding` and signs in. */
  signIn(encoding: "json" | "protobuf", email: string, password: string): Promise<{ signedIn: boolean }>;
  /** `GET /auth/me`. */
  readMe(): Promise<{ id: string; email: string }>;
  /** `PUT /users/me/avatar` from a File of these bytes, then shows the avatar. */
  uploadAvatar(pngBase64: string): Promise<{ avatarUrl: string; shownWidth: number }>;
  /** `POST /achievements` with a PNG proof from a File. */
  submitAchievement(title: string, pngBase64: string): Promise<{ id: string; status: string; title: string }>;
  /** `GET /achievements/{id}/proof`: the file and the name from Content-Disposition. */
  downloadProof(id: string): Promise<{ fileName: string | undefined; mediaType: string; size: number }>;
  /**
   * Opens the notification stream through the browser's EventSource with a ticket, and resolves with the
   * first message that arrives (shown in `#live`), when it arrived (`Date.now()`) and the URLs the
   * EventSource opened.
   */
  receiveOneMessage(): Promise<{ id: string; text: string; receivedAt: number; eventSourceUrls: string[] }>;
  /** A call the server refuses (400); the page shows the error's detail in `#error-detail`. */
  showServerError(): Promise<{ status: number; code: string; detail: string; requestId: string; fields: string[] }>;
  /** For an origin the API does not allow: tries a plain GET and a sign-in and reports how each ended. */
  tryFromOtherOrigin(email: string, password: string): Promise<{ version: string; signIn: string }>;
}
