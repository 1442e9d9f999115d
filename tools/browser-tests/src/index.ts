export { CHROMIUM_FLAGS, CHROMIUM_PATH, launchChromium, type LaunchedBrowser } from "./chromium";
export { ARTIFACTS_DIR, median, openPage, screenshot, type OpenedPage } from "./page";
export {
  HttpError,
  IMPORT_MAP,
  startWebServer,
  withImportMap,
  type ApiHandler,
  type WebServer,
  type WebServerOptions,
} from "./webServer";
export { openSdkPage, SDK_PAGES_DIR, type Sdk, type SdkSession, type SdkWindow } from "./sdkPage";
