/**
 * The page of the browser check: a stand-in for the web app, bundled by esbuild with the generated
 * client exactly as it is, and served from an origin other than the API's. The test drives its steps
 * through `window.shtpPage`; what a person would see is written into the page too.
 */
import { ApiError, createApi, type Encoding, type ShtpApi } from "../../../generated/client/api.js";
import { AchievementKind, achievementStatusToJSON } from "../../../generated/shtp/v1/achievements.js";
import { Notification } from "../../../generated/shtp/v1/notifications.js";
import type { PageApi } from "./page-api.js";

/** The API's origin, from the page's own query string (`?api=http://127.0.0.1:1234`). */
const apiBase = new URLSearchParams(location.search).get("api") ?? "";
let signedIn: ShtpApi | undefined;

/** What the client's EventSources opened: the browser's own class, passed in only to see its URLs. */
const eventSourceUrls: string[] = [];
class SeenEventSource extends EventSource {
  constructor(url: string) {
    super(url);
    eventSourceUrls.push(url);
  }
}

function client(): ShtpApi {
  if (!signedIn) throw new Error("Sign in first.");
  return signedIn;
}

function show(id: string, text: string): void {
  const element = document.getElementById(id);
  if (!element) throw new Error(`The page has no #${id}.`);
  element.textContent = text;
}

const pngFile = (base64: string, name: string) =>
  new File([Uint8Array.from(atob(base64), (character) => character.charCodeAt(0))], name, { type: "image/png" });

/** How a call from a refused origin ended: the browser's TypeError, or (wrongly) an answer. */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return "answered";
  } catch (error) {
    if (error instanceof ApiError) return `ApiError ${error.code}`;
    return error instanceof TypeError ? "refused by the browser" : `failed: ${String(error)}`;
  }
}

const page: PageApi = {
  async signIn(encoding: Encoding, email, password) {
    signedIn = createApi({ baseUrl: apiBase, encoding, EventSource: SeenEventSource });
    await signedIn.login({ body: { email, password } });
    show("status", `Signed in (${encoding})`);
    return { signedIn: signedIn.session.current !== undefined };
  },

  async readMe() {
    const me = await client().getMe();
    show("me", me.user?.email ?? "");
    return { id: me.user?.id ?? "", email: me.user?.email ?? "" };
  },

  async uploadAvatar(pngBase64) {
    const user = await client().replaceMyAvatar({ file: pngFile(pngBase64, "avatar.png") });
    const image = document.getElementById("avatar");
    if (!(image instanceof HTMLImageElement)) throw new Error("The page has no avatar image.");
    image.src = `${apiBase}${user.avatarUrl}`;
    await image.decode();
    return { avatarUrl: user.avatarUrl, shownWidth: image.naturalWidth };
  },

  async submitAchievement(title, pngBase64) {
    const achievement = await client().submitAchievement({
      body: { kind: AchievementKind.OLYMPIAD, title, description: "Submitted from the browser check" },
      file: pngFile(pngBase64, "proof.png"),
    });
    show("achievement", `${achievement.title}: ${achievementStatusToJSON(achievement.status)}`);
    return { id: achievement.id, status: achievementStatusToJSON(achievement.status), title: achievement.title };
  },

  async downloadProof(id) {
    const proof = await client().downloadAchievementProof({ params: { id } });
    return { fileName: proof.fileName, mediaType: proof.mediaType, size: proof.blob.size };
  },

  async receiveOneMessage() {
    const opened = eventSourceUrls.length;
    const stream = client().streamNotifications({}, { transport: "eventsource" });
    for await (const event of stream) {
      if (event.type !== Notification.$type || event.message.payload?.$case !== "message") continue;
      const receivedAt = Date.now();
      show("live", event.message.payload.value.text);
      // Leaving the loop closes the stream (and its EventSource).
      return {
        id: event.id,
        text: event.message.payload.value.text,
        receivedAt,
        eventSourceUrls: eventSourceUrls.slice(opened),
      };
    }
    throw new Error("The stream ended without a message.");
  },

  async showServerError() {
    try {
      await client().listNotifications({ query: { limit: 0 } });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      show("error-detail", error.detail);
      return {
        status: error.status,
        code: error.code,
        detail: error.detail,
        requestId: error.requestId,
        fields: error.fieldViolations.map((violation) => violation.field),
      };
    }
    throw new Error("The server accepted limit=0.");
  },

  async tryFromOtherOrigin(email, password) {
    const api = createApi({ baseUrl: apiBase });
    return {
      version: await outcome(() => api.getVersion()),
      signIn: await outcome(() => api.login({ body: { email, password } })),
    };
  },
};

(window as Window & { shtpPage?: PageApi }).shtpPage = page;
show("status", "Ready");
