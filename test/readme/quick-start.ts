// The README's quick start, verbatim (test/readme/quick-start.spec.ts runs it).
import { Controller, Delete, Get, Module, Param, Put } from '@nestjs/common';
import { Cors, CorsModule } from '../../lib/index.js';

@Cors({ origin: 'https://app.example.com', credentials: true })
@Controller('notes')
export class NotesController {
  @Get()
  list() {
    return [];
  }

  @Cors({ maxAge: 600 }) // merged over the controller's policy
  @Put(':id')
  update(@Param('id') id: string) {
    return { id };
  }

  @Cors(false) // no CORS headers here
  @Delete(':id')
  remove() {}
}

@Module({
  imports: [CorsModule.forRoot({ origin: ['https://app.example.com', 'https://*.example.com'] })],
  controllers: [NotesController],
})
export class AppModule {}
